import type { DataSource } from "typeorm";

type Params = readonly unknown[];

/**
 * One transaction on one pooled connection, sent in as few round trips as the protocol allows. On this service's
 * hot path the cost of a statement is mostly its round trip (a socket write and a wake-up on each side), not
 * the statement: START TRANSACTION travels with the first read, and the writes travel with COMMIT, so an upsert
 * takes two round trips instead of four or five.
 */
export interface PipelinedTransaction {
  /** Runs a statement now and returns its rows. */
  query<Row>(sql: string, params: Params): Promise<Row[]>;
  /** Queues a write to be sent with COMMIT; an error it raises (a duplicate key) surfaces from the transaction. */
  defer(sql: string, params: Params): void;
}

/**
 * Runs `work` in a transaction and commits it, or rolls it back if anything throws. The caller's signal is
 * checked before every round trip, so no statement is sent after the caller's deadline. Needs a connection
 * with multipleStatements on; every statement here is a constant with `?` placeholders, escaped by the driver.
 */
export async function runPipelined<T>(
  dataSource: DataSource,
  work: (tx: PipelinedTransaction) => Promise<T>,
  signal: AbortSignal | undefined,
): Promise<T> {
  const runner = dataSource.createQueryRunner("master");
  let begun = false;
  const deferred: [string, Params][] = [];
  const send = async (sql: string, params: Params): Promise<unknown[]> => {
    signal?.throwIfAborted();
    if (!begun) {
      begun = true;
      const [, ...results] = await runner.query(`START TRANSACTION; ${sql}`, [...params]);
      return results;
    }
    const result = await runner.query(sql, [...params]);
    return [result];
  };
  try {
    await runner.connect();
    const result = await work({
      async query<Row>(sql: string, params: Params) {
        if (deferred.length > 0) throw new Error("a read after a deferred write would not see it");
        const [rows] = await send(sql, params);
        return rows as Row[];
      },
      defer(sql, params) {
        deferred.push([sql, params]);
      },
    });
    if (begun || deferred.length > 0) {
      await send(
        [...deferred.map(([sql]) => sql), "COMMIT"].join("; "),
        deferred.flatMap(([, params]) => params),
      );
    }
    return result;
  } catch (error) {
    // A failed statement leaves its transaction open (a deadlock has already rolled it back): end it here.
    if (begun && !runner.isReleased) await runner.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    if (!runner.isReleased) await runner.release();
  }
}

import type { DataSource, QueryRunner } from "typeorm";
import { OverloadedError } from "../contacts/errors.js";

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
 * checked before every round trip, so no statement is sent after the caller's deadline. Waits at most
 * `queueTimeoutMs` for a pooled connection, then fails with OverloadedError (nothing sent). Needs a connection
 * with multipleStatements on; every statement here is a constant with `?` placeholders, escaped by the driver.
 */
export async function runPipelined<T>(
  dataSource: DataSource,
  work: (tx: PipelinedTransaction) => Promise<T>,
  signal: AbortSignal | undefined,
  queueTimeoutMs = Number.POSITIVE_INFINITY,
): Promise<T> {
  const runner = dataSource.createQueryRunner("master");
  if (!(await connectWithin(runner, queueTimeoutMs, signal))) {
    signal?.throwIfAborted();
    throw new OverloadedError(
      `no database connection was free within ${queueTimeoutMs} ms (DB_QUEUE_TIMEOUT_MS): the service is overloaded; retry the call with backoff`,
    );
  }
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

/**
 * Takes a pooled connection for `runner`, waiting at most `timeoutMs` or until the signal aborts. False when it
 * gave up: the connection the pool hands over later is then released at once, so an abandoned wait leaks none.
 */
async function connectWithin(
  runner: QueryRunner,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const connecting = runner.connect();
  if (!Number.isFinite(timeoutMs) && !signal) {
    await connecting;
    return true;
  }
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const gaveUp = new Promise<false>((resolve) => {
    if (Number.isFinite(timeoutMs)) timer = setTimeout(() => resolve(false), timeoutMs);
    onAbort = () => resolve(false);
    if (signal?.aborted) onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
  });
  try {
    const connected = await Promise.race([connecting.then(() => true as const), gaveUp]);
    if (!connected) {
      connecting.then(
        () => runner.release(),
        () => undefined,
      );
    }
    return connected;
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
}

import type { DataSource, QueryRunner } from "typeorm";
import type { Committed } from "../contacts/contact-store.js";
import { waitedTooLong } from "../contacts/errors.js";
import { commitTrips, type Queued } from "./commit-trips.js";
import { driverQuery } from "./driver-query.js";
import { peekTick, readTick, TICK, takeTick } from "./firm-clock.js";

type Params = readonly unknown[];

/**
 * One transaction on one pooled connection, sent in as few round trips as the protocol allows. On this service's
 * hot path the cost of a statement is mostly its round trip (a socket write and a wake-up on each side), not
 * the statement: START TRANSACTION travels with the first read, and the writes travel with COMMIT, so an upsert
 * takes two round trips instead of four or five. On a Galera cluster that is unsafe, and every statement travels
 * alone (see `apart`).
 */
export interface PipelinedTransaction {
  /** Runs a statement now and returns its rows. */
  query<Row>(sql: string, params: Params): Promise<Row[]>;
  /** Runs statements now, in one round trip, and returns each one's result (rows, or an OkPacket). */
  queryAll(statements: readonly [string, Params][]): Promise<unknown[]>;
  /**
   * Queues one statement writing `firmId`'s data, to be sent with COMMIT after the firm's clock ticked (see
   * firm-clock.ts); the statement stamps its rows with `TICK`. Every write of a transaction shares one tick, so a
   * transaction writes one firm. It runs while the transaction holds the firm's clock, so it must not wait on
   * another transaction: it may only touch rows this transaction has locked or inserted, or rows no other
   * transaction can lock (a new tombstone, the assignments of a contact it holds).
   */
  write(firmId: string, sql: string, params: Params): void;
  /**
   * Queues one statement that writes a unique key (an insert, an email or tracking id change), sent with COMMIT
   * before the firm's clock ticks: it may wait on another transaction's lock on that key, and must not do so
   * while holding the clock (that transaction may be waiting for the clock: a deadlock). It cannot use TICK; a
   * `write` stamps its rows afterwards. An error it raises (a duplicate key) surfaces from the transaction. Only
   * for a transaction too large for one round trip (see flush); the others use claimKeys.
   */
  claim(firmId: string, sql: string, params: Params): void;
  /**
   * Queues writes that claim unique keys, in two equivalent forms. `stamped` writes the rows with TICK in one go
   * and is sent right after the tick: used when the whole commit fits one round trip and nothing was flushed,
   * which is every single-contact write. Otherwise `early` goes as claims before the tick and `stamps` after it,
   * the lock order of `claim`. A key written under the clock waits only if another transaction locks it while
   * not holding the clock: a batch that claimed early, or a reader that locked a row committed after this
   * transaction's own read. Such a rare wait can close a cycle with the clock; InnoDB detects it, rolls one back,
   * and that one is retried. Stamping after the insert rewrote each new row and its update-time index entry: 16
   * to 45 µs more database CPU per upsert in `npm run bench:db-steps`.
   */
  claimKeys(firmId: string, forms: KeyClaims): void;
  /**
   * Sends the claims queued so far in a round trip of their own, instead of with COMMIT: for a transaction whose
   * rows would not fit one packet. Claims never wait on the clock, so they may go before it in any number of
   * round trips.
   */
  flush(): Promise<void>;
  /**
   * Queues a statement on a row this transaction inserted (a request id's outcome, see request-outcomes.ts), sent
   * with COMMIT after the writes: TICK is then the commit's tick, or NULL when the transaction writes no firm
   * data, since a record alone never ticks the firm's clock.
   */
  record(sql: string, params: Params): void;
}

/** The two forms of the writes that claim unique keys (see PipelinedTransaction.claimKeys). */
export interface KeyClaims {
  readonly stamped: readonly (readonly [string, Params])[];
  readonly early: readonly (readonly [string, Params])[];
  readonly stamps: readonly (readonly [string, Params])[];
}

/**
 * Runs `work` in a transaction and commits it, or rolls it back if anything throws. The caller's signal is
 * checked before every round trip, so no statement is sent after the caller's deadline. With `dryRun` the
 * reads run as they would (locking ones included), but the queued claims and writes are never sent and the
 * transaction ends with ROLLBACK: nothing is written, and the firm's clock is only peeked (the tick returned is
 * the one a commit would have taken at that moment, see peekTick). Waits at most
 * `queueTimeoutMs` for a pooled connection, then fails with OverloadedError (nothing sent). Needs a connection
 * with multipleStatements on; every statement here is a constant with `?` placeholders, escaped by the driver.
 * With `onePacket` false (a Galera cluster, see `apart`) each statement travels alone, COMMIT included.
 */
export async function runPipelined<T>(
  dataSource: DataSource,
  work: (tx: PipelinedTransaction) => Promise<T>,
  signal: AbortSignal | undefined,
  queueTimeoutMs = Number.POSITIVE_INFINITY,
  dryRun = false,
  onePacket = true,
): Promise<Committed<T>> {
  const runner = dataSource.createQueryRunner("master");
  if (!(await connectWithin(runner, queueTimeoutMs, signal))) {
    signal?.throwIfAborted();
    throw waitedTooLong(queueTimeoutMs);
  }
  const query = driverQuery(runner);
  let begun = false;
  let firm: string | undefined;
  const claims: [string, Params][] = [];
  const keyClaims: KeyClaims[] = [];
  let flushed = false;
  const deferred: [string, Params][] = [];
  const records: [string, Params][] = [];
  const ownFirm = (firmId: string) => {
    if (firm !== undefined && firm !== firmId) throw new Error("one transaction writes one firm");
    firm = firmId;
  };
  // Sends statements (in one round trip unless onePacket is off) and returns one result per statement.
  const send = async (statements: readonly Queued[]): Promise<unknown[]> => {
    signal?.throwIfAborted();
    const sent: Queued[] = begun ? [...statements] : [["START TRANSACTION", []], ...statements];
    begun = true;
    const results: unknown[] = [];
    for (const packet of onePacket ? [sent] : apart(sent)) {
      if (results.length > 0) signal?.throwIfAborted();
      const result = await query(
        packet.map(([sql]) => sql).join("; "),
        packet.flatMap(([, params]) => params),
      );
      results.push(...(packet.length === 1 ? [result] : (result as unknown[])));
    }
    return results.slice(sent.length - statements.length);
  };
  try {
    const value = await work({
      async query<Row>(sql: string, params: Params) {
        if (firm !== undefined) throw new Error("a read after a deferred write would not see it");
        const [rows] = await send([[sql, params]]);
        return rows as Row[];
      },
      async queryAll(statements) {
        if (firm !== undefined) throw new Error("a read after a deferred write would not see it");
        return send(statements);
      },
      record(sql, params) {
        records.push([sql, params]);
      },
      write(firmId, sql, params) {
        ownFirm(firmId);
        deferred.push([sql, params]);
      },
      claim(firmId, sql, params) {
        ownFirm(firmId);
        claims.push([sql, params]);
      },
      claimKeys(firmId, forms) {
        ownFirm(firmId);
        keyClaims.push(forms);
      },
      async flush() {
        if (dryRun) claims.length = 0; // a dry run sends no claim; dropped so it stays one transaction's memory
        if (claims.length === 0) return;
        const statements = claims.splice(0);
        flushed = true;
        await send(statements);
      },
    });
    if (firm === undefined) {
      // Records alone: TICK must not hold a tick an earlier transaction left in this pooled session.
      const recorded: [string, Params][] =
        dryRun || records.length === 0 ? [] : [[`SET ${TICK} = NULL`, []], ...records];
      const end = dryRun ? "ROLLBACK" : "COMMIT";
      if (begun) {
        await send([...recorded, [end, []]]);
      }
      return { value, tick: null };
    }
    if (dryRun) {
      const [[row]] = (await send([peekTick(firm), ["ROLLBACK", []]])) as [{ tick: Date }[]];
      return { value, tick: checkedTick(row) };
    }
    // Lock order: a request id row (its first statement), contact rows (read phase), the firm's clock, then the
    // keys claimed under it; a transaction too large for one round trip claims its keys before the clock instead.
    // One round trip, unless the statements would not fit one packet (commit-trips.ts).
    const tick = takeTick(firm);
    const stampedTrips =
      claims.length === 0 && !flushed
        ? commitTrips(
            [],
            tick,
            [...keyClaims.flatMap((k) => k.stamped), ...deferred, ...records],
            readTick(firm),
          )
        : [];
    const trips =
      stampedTrips.length === 1
        ? stampedTrips
        : commitTrips(
            [...claims, ...keyClaims.flatMap((k) => k.early)],
            tick,
            [...keyClaims.flatMap((k) => k.stamps), ...deferred, ...records],
            readTick(firm),
          );
    let results: unknown[] = [];
    for (const [i, statements] of trips.entries()) {
      const last = i === trips.length - 1;
      results = await send([...statements, ...(last ? [["COMMIT", []] as Queued] : [])]);
    }
    // The last result is COMMIT's; the one before it, the tick's row.
    const [row] = results[results.length - 2] as { tick: Date }[];
    return { value, tick: checkedTick(row) };
  } catch (error) {
    // A failed statement leaves its transaction open (a deadlock has already rolled it back): end it here.
    if (begun && !runner.isReleased) await query("ROLLBACK", []).catch(() => undefined);
    throw error;
  } finally {
    if (!runner.isReleased) await runner.release();
  }
}

/**
 * The packets `onePacket: false` sends: one statement each, except that START TRANSACTION travels with the
 * statement after it. Why: on Galera, a transaction aborted by a conflicting write from another node part-way
 * through a multi-statement packet is rolled back, the packet's remaining statements then run as autocommit
 * ones, and the client gets OK (issue 24: acknowledged writes lost). Alone, each statement after the abort fails
 * with the 1213 deadlock that is retried. START TRANSACTION holds no lock, so nothing can abort before the
 * statement it leads.
 */
function apart(statements: readonly Queued[]): Queued[][] {
  const [first, second, ...rest] = statements;
  if (first === undefined) return [];
  if (second === undefined) return [[first]];
  const leading = first[0] === "START TRANSACTION" ? [[first, second]] : [[first], [second]];
  return [...leading, ...rest.map((statement) => [statement])];
}

function checkedTick(row: { tick: unknown } | undefined): Date {
  if (!(row?.tick instanceof Date)) throw new Error("the firm clock's tick was not read back");
  return row.tick;
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

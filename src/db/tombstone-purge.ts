import { setTimeout as sleep } from "node:timers/promises";
import type { DataSource } from "typeorm";
import type { Logger } from "../logger.js";
import type { BatchRunner } from "../tracing/background-spans.js";

/** How the background purge paces itself. */
export interface PurgeOptions {
  readonly retentionDays: number;
  /** Time between purge passes. */
  readonly intervalMs: number;
  /**
   * Rows deleted per statement, all of one firm: small, so each statement holds its locks briefly and never
   * stalls calls.
   */
  readonly batchSize: number;
  /** Pause between batches of one pass, leaving the database to the calls. */
  readonly pauseMs: number;
}

export const DEFAULT_PURGE: Omit<PurgeOptions, "retentionDays"> = Object.freeze({
  intervalMs: 10 * 60_000,
  batchSize: 500,
  pauseMs: 50,
});

// Every statement of a purge batch names one firm, so that on a database sharded by firm_id (Vitess, see
// docs/vitess.md) each routes to one shard: a `DELETE ... LIMIT` across firms is a scatter DML Vitess refuses.
// Only the read choosing the next firm spans firms, and it writes nothing.
const NEXT_FIRM =
  "SELECT firm_id FROM contact_tombstones WHERE delete_time < UTC_TIMESTAMP(3) - INTERVAL ? DAY " +
  "ORDER BY delete_time LIMIT 1";
// MariaDB reaches these over the delete_time index (expired tombstones of every firm, the chosen firm's first) or
// the firm's (firm_id, update_time, id) one, whichever it estimates cheaper; a (firm_id, delete_time) index would
// be exact, at the cost of one more index on every delete.
const FIRM_EXPIRED =
  "SELECT id FROM contact_tombstones WHERE firm_id = ? AND delete_time < UTC_TIMESTAMP(3) - INTERVAL ? DAY " +
  "ORDER BY delete_time LIMIT ? FOR UPDATE";

/**
 * Deletes one batch of tombstones deleted more than `retentionDays` ago, with their contacts' change history, in
 * one transaction (a history is readable exactly as long as its tombstone); returns how many tombstones it
 * deleted. A batch is one firm's: the firm with the oldest expired tombstone, found over the delete_time index;
 * then at most batchSize of its expired tombstones, oldest first, and their history by primary key. 0 means none
 * is left (or another instance purged the chosen firm's meanwhile).
 */
export async function purgeTombstoneBatch(
  dataSource: DataSource,
  retentionDays: number,
  batchSize: number,
): Promise<number> {
  const [next] = (await dataSource.query(NEXT_FIRM, [retentionDays])) as { firm_id: string }[];
  if (next === undefined) return 0;
  const firmId = next.firm_id;
  return dataSource.transaction(async (manager) => {
    const expired = (await manager.query(FIRM_EXPIRED, [firmId, retentionDays, batchSize])) as {
      id: string;
    }[];
    if (expired.length === 0) return 0;
    const ids = expired.map((t) => t.id);
    const list = ids.map(() => "?").join(", ");
    await manager.query(`DELETE FROM contact_changes WHERE firm_id = ? AND contact_id IN (${list})`, [
      firmId,
      ...ids,
    ]);
    await manager.query(`DELETE FROM contact_tombstones WHERE firm_id = ? AND id IN (${list})`, [
      firmId,
      ...ids,
    ]);
    return expired.length;
  });
}

/** A running purge loop. */
export interface TombstonePurge {
  /** Stops the loop and waits for a statement in flight to end. */
  stop(): Promise<void>;
}

/**
 * Purges expired tombstones in the background: one pass at start and every intervalMs, each pass in small
 * batches of one firm each until none is left. Errors are logged and the next pass tries again; nothing waits on it.
 */
export function startTombstonePurge(
  dataSource: DataSource,
  options: PurgeOptions,
  logger: Logger,
  runBatch?: BatchRunner,
): TombstonePurge {
  return startPurgeLoop(
    () => purgeTombstoneBatch(dataSource, options.retentionDays, options.batchSize),
    options,
    (purged) => logger.info({ purged, retentionDays: options.retentionDays }, "purged tombstones"),
    (error) => logger.warn({ err: { message: error.message } }, "tombstone purge failed; retrying later"),
    runBatch,
  );
}

/**
 * The loop of a background purge: `purgeBatch` deletes at most batchSize rows of one firm and returns how many;
 * a pass repeats it (pausing between batches) until a batch deletes nothing, then sleeps intervalMs. A short
 * batch does not end the pass: it may only mean that firm had no more. `runBatch` runs each batch (tracing
 * gives each a span).
 */
export function startPurgeLoop(
  purgeBatch: () => Promise<number>,
  options: Omit<PurgeOptions, "retentionDays">,
  onPurged: (purged: number) => void,
  onError: (error: Error) => void,
  runBatch: BatchRunner = (batch) => batch(),
): TombstonePurge {
  const stopping = new AbortController();
  const loop = (async () => {
    while (!stopping.signal.aborted) {
      try {
        let purged = 0;
        for (;;) {
          const deleted = await runBatch(purgeBatch);
          purged += deleted;
          if (deleted === 0 || stopping.signal.aborted) break;
          await sleep(options.pauseMs, undefined, { signal: stopping.signal });
        }
        if (purged > 0) onPurged(purged);
        await sleep(options.intervalMs, undefined, { signal: stopping.signal });
      } catch (error) {
        if (stopping.signal.aborted) break;
        onError(error as Error);
        await sleep(options.intervalMs, undefined, { signal: stopping.signal }).catch(() => undefined);
      }
    }
  })();
  return {
    async stop() {
      stopping.abort();
      await loop;
    },
  };
}

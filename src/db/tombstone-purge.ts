import { setTimeout as sleep } from "node:timers/promises";
import type { DataSource } from "typeorm";
import type { Logger } from "../logger.js";
import type { BatchRunner } from "../tracing/background-spans.js";

/** How the background purge paces itself. */
export interface PurgeOptions {
  readonly retentionDays: number;
  /** Time between purge passes. */
  readonly intervalMs: number;
  /** Rows deleted per statement: small, so each statement holds its locks briefly and never stalls calls. */
  readonly batchSize: number;
  /** Pause between batches of one pass, leaving the database to the calls. */
  readonly pauseMs: number;
}

export const DEFAULT_PURGE: Omit<PurgeOptions, "retentionDays"> = Object.freeze({
  intervalMs: 10 * 60_000,
  batchSize: 500,
  pauseMs: 50,
});

/**
 * Deletes one batch of tombstones deleted more than `retentionDays` ago, with their contacts' change history, in
 * one transaction (a history is readable exactly as long as its tombstone); returns how many tombstones it
 * deleted. Uses the delete_time index and the history's primary key.
 */
export async function purgeTombstoneBatch(
  dataSource: DataSource,
  retentionDays: number,
  batchSize: number,
): Promise<number> {
  return dataSource.transaction(async (manager) => {
    const expired = (await manager.query(
      "SELECT firm_id, id FROM contact_tombstones WHERE delete_time < UTC_TIMESTAMP(3) - INTERVAL ? DAY ORDER BY delete_time LIMIT ? FOR UPDATE",
      [retentionDays, batchSize],
    )) as { firm_id: string; id: string }[];
    if (expired.length === 0) return 0;
    await manager.query(
      `DELETE FROM contact_changes WHERE ${expired.map(() => "(firm_id = ? AND contact_id = ?)").join(" OR ")}`,
      expired.flatMap((t) => [t.firm_id, t.id]),
    );
    await manager.query(
      `DELETE FROM contact_tombstones WHERE id IN (${expired.map(() => "?").join(", ")})`,
      expired.map((t) => t.id),
    );
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
 * batches until none is left. Errors are logged and the next pass tries again; nothing waits on it.
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
 * The loop of a background purge: `purgeBatch` deletes at most batchSize rows and returns how many; a pass
 * repeats it (pausing between batches) until a batch comes back short, then sleeps intervalMs. `runBatch` runs
 * each batch (tracing gives each a span).
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
          if (deleted < options.batchSize || stopping.signal.aborted) break;
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

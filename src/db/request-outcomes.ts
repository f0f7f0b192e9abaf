import type { DataSource } from "typeorm";
import type { ContactStore } from "../contacts/contact-store.js";
import type { RequestKey } from "../contacts/request-key.js";
import type { Logger } from "../logger.js";
import type { BatchRunner } from "../tracing/background-spans.js";
import { TICK } from "./firm-clock.js";
import type { PipelinedTransaction } from "./pipelined-transaction.js";
import { type PurgeOptions, startPurgeLoop, type TombstonePurge } from "./tombstone-purge.js";

// The request id is stored as its UTF-8 bytes: compared exactly (a PAD SPACE collation would make "a" and "a "
// one id). While the first call runs its row has no outcome; a committed row always has one.
const CLAIM =
  "INSERT IGNORE INTO request_outcomes (firm_id, request_id, fingerprint, expire_time) " +
  "VALUES (?, ?, ?, UTC_TIMESTAMP(3) + INTERVAL ? HOUR)";
const READ =
  "SELECT fingerprint, outcome, tick, expire_time < UTC_TIMESTAMP(3) AS expired " +
  "FROM request_outcomes WHERE firm_id = ? AND request_id = ?";
// An expired outcome is gone for callers even before the purge deletes it: its row is taken over as a new claim.
const RECLAIM =
  "UPDATE request_outcomes SET fingerprint = ?, outcome = NULL, tick = NULL, " +
  "expire_time = UTC_TIMESTAMP(3) + INTERVAL ? HOUR " +
  "WHERE firm_id = ? AND request_id = ? AND expire_time < UTC_TIMESTAMP(3)";
const SAVE = `UPDATE request_outcomes SET outcome = ?, tick = ${TICK} WHERE firm_id = ? AND request_id = ?`;

type Row = { fingerprint: string; outcome: string | null; tick: Date | null; expired: number | string };

/** The request-id part of the ContactStore over one transaction. */
export function requestOutcomes(
  tx: PipelinedTransaction,
): Pick<ContactStore, "claimRequestId" | "saveRequestOutcome"> {
  const id = (key: RequestKey) => [key.firmId, Buffer.from(key.requestId, "utf8")];
  return {
    async claimRequestId(key) {
      // One round trip: the insert waits while another transaction holds the id (its unique key), does nothing
      // when a committed row exists (holding a shared lock on it until this transaction ends), and the read
      // then sees this transaction's own new row, or the committed one.
      const [, rows] = (await tx.queryAll([
        [CLAIM, [...id(key), key.fingerprint, key.ttlHours]],
        [READ, id(key)],
      ])) as [unknown, Row[]];
      const row = rows[0];
      if (row === undefined) throw new Error("the request id's row was neither inserted nor found");
      if (row.outcome === null) return null;
      if (Number(row.expired) === 1) {
        // The shared lock the claim took becomes exclusive here; two callers reclaiming at once deadlock, and the
        // loser's transaction is retried (it then reads the winner's outcome). Rare: only past an id's expiry.
        await tx.query(RECLAIM, [key.fingerprint, key.ttlHours, ...id(key)]);
        return null;
      }
      return { fingerprint: row.fingerprint, outcome: row.outcome, tick: row.tick };
    },
    async saveRequestOutcome(key, outcome) {
      tx.record(SAVE, [outcome, ...id(key)]);
    },
  };
}

// One firm per batch, like the tombstone purge (tombstone-purge.ts): only the read choosing the firm spans firms.
const NEXT_FIRM =
  "SELECT firm_id FROM request_outcomes WHERE expire_time < UTC_TIMESTAMP(3) ORDER BY expire_time LIMIT 1";
const DELETE_EXPIRED =
  "DELETE FROM request_outcomes WHERE firm_id = ? AND expire_time < UTC_TIMESTAMP(3) ORDER BY expire_time LIMIT ?";

/**
 * Deletes one batch of request outcomes past their expiry, all of one firm (the one with the oldest expired
 * outcome, found over the expire_time index); returns how many, 0 when none is left. Each statement is short and
 * commits on its own (autocommit). A row a call is replaying is locked by it: the delete waits for that call's
 * short transaction, never the other way round for long.
 */
export async function purgeRequestOutcomeBatch(
  query: (sql: string, params: unknown[]) => Promise<unknown>,
  batchSize: number,
): Promise<number> {
  const [next] = (await query(NEXT_FIRM, [])) as { firm_id: string }[];
  if (next === undefined) return 0;
  const result = (await query(DELETE_EXPIRED, [next.firm_id, batchSize])) as { affectedRows?: number };
  return result.affectedRows ?? 0;
}

/** Purges expired request outcomes in the background, in small batches, like the tombstones. */
export function startRequestOutcomePurge(
  dataSource: DataSource,
  options: Omit<PurgeOptions, "retentionDays">,
  logger: Logger,
  runBatch?: BatchRunner,
): TombstonePurge {
  return startPurgeLoop(
    () => purgeRequestOutcomeBatch((sql, params) => dataSource.query(sql, params), options.batchSize),
    options,
    (purged) => logger.info({ purged }, "purged expired request ids"),
    (error) => logger.warn({ err: { message: error.message } }, "request id purge failed; retrying later"),
    runBatch,
  );
}

import type { DataSource } from "typeorm";
import type { FeedStore } from "../feed/feed-store.js";
import { toRecordedChange } from "./history-statements.js";

// Firms per clock read: one statement for any realistic number of watched firms, bounded in size.
const CLOCKS_PER_STATEMENT = 1_000;

/**
 * The change feed's reads (see FeedStore): the watched firms' clocks by primary key, and a firm's changes in
 * commit order over migration 0008's index (firm_id, change_time, seq; contact_id follows as the primary key's
 * remaining column, so the ORDER BY is the index's own order).
 */
export function feedStore(dataSource: DataSource): FeedStore {
  return {
    async readClocks(firmIds) {
      const clocks = new Map<string, Date>();
      for (let i = 0; i < firmIds.length; i += CLOCKS_PER_STATEMENT) {
        const firms = firmIds.slice(i, i + CLOCKS_PER_STATEMENT);
        const rows = (await dataSource.query(
          `SELECT firm_id, last_time FROM firm_clocks WHERE firm_id IN (${firms.map(() => "?").join(", ")})`,
          firms,
        )) as { firm_id: string; last_time: Date }[];
        for (const row of rows) clocks.set(row.firm_id, row.last_time);
      }
      return clocks;
    },
    async readChanges(firmId, after, upTo, limit) {
      const rows = (await dataSource.query(
        "SELECT contact_id, change_time, seq, principal, request_id, kind, fields FROM contact_changes " +
          "FORCE INDEX (feed_order) WHERE firm_id = ? AND change_time > ? AND change_time <= ? " +
          "ORDER BY change_time, seq, contact_id LIMIT ?",
        [firmId, after, upTo, limit],
      )) as Record<string, unknown>[];
      return rows.map((row) => toRecordedChange(row, String(row.contact_id)));
    },
  };
}

import type { QueryRunner } from "typeorm";
import { defineMigration } from "./define-migration.js";

/**
 * An index on contact_changes in the firm's commit order, for WatchContactChanges (issue 19): the feed reads the
 * changes of a firm committed after a point, `WHERE firm_id = ? AND change_time > ? ORDER BY change_time, seq`.
 * The primary key leads with contact_id after firm_id, so without this index each read would scan every change
 * the firm ever recorded. Not unique: a tick is one transaction of the firm, and nothing but habit keeps a
 * transaction to one numbering of seq.
 */
export const ChangeFeedIndex = defineMigration(
  "ChangeFeedIndex1796600000000",
  async (runner: QueryRunner) => {
    await runner.query("ALTER TABLE contact_changes ADD INDEX feed_order (firm_id, change_time, seq)");
  },
  async (runner: QueryRunner) => {
    await runner.query("ALTER TABLE contact_changes DROP INDEX feed_order");
  },
);

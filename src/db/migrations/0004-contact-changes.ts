import type { QueryRunner } from "typeorm";
import { MAX_LENGTH } from "../../contacts/fields.js";
import { defineMigration } from "./define-migration.js";

/**
 * The change history (issue 9): `contact_changes`, one row per change of a contact, written in the transaction of
 * the change. Its primary key (firm_id, contact_id, change_time, seq) is the order ListContactChanges pages in,
 * newest first: change_time is the commit's tick of the firm clock, unique per firm and commit, and seq orders
 * the changes one transaction made to one contact (a batch's items). `fields` holds the field changes as a JSON
 * array of [field, old, new] triples: one row per change, not one per field, keeps the write to one row. Rows go
 * with their contact's tombstone when the purge removes it. Contacts stored before this migration have an empty
 * history.
 */
export const ContactChanges = defineMigration(
  "ContactChanges1796200000000",
  async (runner: QueryRunner) => {
    await runner.query(`
      CREATE TABLE contact_changes (
      firm_id VARCHAR(${MAX_LENGTH.firmId}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
      contact_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      change_time DATETIME(3) NOT NULL,
      seq SMALLINT UNSIGNED NOT NULL,
      principal TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
      request_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
      kind VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      fields MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
      PRIMARY KEY (firm_id, contact_id, change_time, seq)
      ) ENGINE=InnoDB`);
  },
  async (runner: QueryRunner) => {
    await runner.query("DROP TABLE contact_changes");
  },
);

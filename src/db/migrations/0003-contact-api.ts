import { randomBytes } from "node:crypto";
import type { QueryRunner } from "typeorm";
import { ASSIGNMENT_ID_MAX_LENGTH } from "../../contacts/assignments.js";
import { MAX_LENGTH, OPTIONAL_FIELDS } from "../../contacts/fields.js";
import { columnOf } from "../columns.js";
import { defineMigration } from "./define-migration.js";
import { emailCollation } from "./email-collation.js";

/**
 * What the rest of the Contact API needs (issue 8):
 * - `firm_clocks`: one row per firm, the last commit time handed out, so that update_time follows commit order
 *   within a firm (see transaction-clock.ts). Seeded from the contacts already stored.
 * - an index (firm_id, update_time, id) for ListContacts' keyset pages.
 * - `contact_tombstones`: deleted contacts, for a sync to see deletions, with no unique keys, so the live
 *   table's email and tracking id are free again at once.
 * - `contact_assignments`: the client and investment-entity ids linked to each contact.
 * - `page_token_secrets`: one random key, shared by every instance, that signs ListContacts page tokens.
 */
export const ContactApi = defineMigration(
  "ContactApi1796100000000",
  async (runner: QueryRunner) => {
    const collation = await emailCollation(runner);
    const optional = OPTIONAL_FIELDS.map((field) =>
      field === "note" ? "note TEXT NULL" : `${columnOf(field)} VARCHAR(${MAX_LENGTH[field]}) NULL`,
    ).join(",\n      ");
    await runner.query(`
      CREATE TABLE firm_clocks (
      firm_id VARCHAR(${MAX_LENGTH.firmId}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
      last_time DATETIME(3) NOT NULL,
      PRIMARY KEY (firm_id)
      ) ENGINE=InnoDB`);
    await runner.query(
      "INSERT INTO firm_clocks (firm_id, last_time) SELECT firm_id, MAX(update_time) FROM contacts GROUP BY firm_id",
    );
    await runner.query("CREATE INDEX ix_contacts_firm_update_time ON contacts (firm_id, update_time, id)");
    await runner.query(`
      CREATE TABLE contact_tombstones (
      id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      firm_id VARCHAR(${MAX_LENGTH.firmId}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
      tracking_id VARCHAR(${MAX_LENGTH.trackingId}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
      email VARCHAR(${MAX_LENGTH.email}) CHARACTER SET utf8mb4 COLLATE ${collation} NOT NULL,
      first_name VARCHAR(${MAX_LENGTH.firstName}) NOT NULL,
      last_name VARCHAR(${MAX_LENGTH.lastName}) NOT NULL,
      ${optional},
      create_time DATETIME(3) NOT NULL,
      update_time DATETIME(3) NOT NULL,
      delete_time DATETIME(3) NOT NULL,
      PRIMARY KEY (id),
      KEY ix_contact_tombstones_firm_update_time (firm_id, update_time, id),
      KEY ix_contact_tombstones_delete_time (delete_time)
      ) ENGINE=InnoDB DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    await runner.query(`
      CREATE TABLE contact_assignments (
      contact_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      kind VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      ref_id VARCHAR(${ASSIGNMENT_ID_MAX_LENGTH}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
      firm_id VARCHAR(${MAX_LENGTH.firmId}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
      PRIMARY KEY (contact_id, kind, ref_id)
      ) ENGINE=InnoDB`);
    await runner.query(`
      CREATE TABLE page_token_secrets (
      id TINYINT UNSIGNED NOT NULL,
      secret BINARY(32) NOT NULL,
      PRIMARY KEY (id)
      ) ENGINE=InnoDB`);
    await runner.query("INSERT INTO page_token_secrets (id, secret) VALUES (1, ?)", [randomBytes(32)]);
  },
  async (runner: QueryRunner) => {
    await runner.query("DROP TABLE page_token_secrets");
    await runner.query("DROP TABLE contact_assignments");
    await runner.query("DROP TABLE contact_tombstones");
    await runner.query("DROP INDEX ix_contacts_firm_update_time ON contacts");
    await runner.query("DROP TABLE firm_clocks");
  },
);

import type { QueryRunner } from "typeorm";
import { MAX_LENGTH, OPTIONAL_FIELDS } from "../../contacts/fields.js";
import { columnOf } from "../columns.js";
import { defineMigration } from "./define-migration.js";
import { emailCollation } from "./email-collation.js";

/**
 * The contacts table. Uniqueness lives here: (firm, tracking id) and (firm, email) under a case-insensitive,
 * accent-sensitive, NO PAD collation, so concurrent upserts can never create a duplicate.
 */
export const CreateContacts = defineMigration(
  "CreateContacts1764288000000",
  async (runner: QueryRunner) => {
    const collation = await emailCollation(runner);
    const optional = OPTIONAL_FIELDS.map((field) =>
      field === "note" ? "note TEXT NULL" : `${columnOf(field)} VARCHAR(${MAX_LENGTH[field]}) NULL`,
    ).join(",\n      ");
    await runner.query(`
      CREATE TABLE contacts (
      id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      firm_id VARCHAR(${MAX_LENGTH.firmId}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
      tracking_id VARCHAR(${MAX_LENGTH.trackingId}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
      email VARCHAR(${MAX_LENGTH.email}) CHARACTER SET utf8mb4 COLLATE ${collation} NOT NULL,
      first_name VARCHAR(${MAX_LENGTH.firstName}) NOT NULL,
      last_name VARCHAR(${MAX_LENGTH.lastName}) NOT NULL,
      ${optional},
      create_time DATETIME(3) NOT NULL,
      update_time DATETIME(3) NOT NULL,
      PRIMARY KEY (id),
      UNIQUE KEY uq_contacts_firm_tracking_id (firm_id, tracking_id),
      UNIQUE KEY uq_contacts_firm_email (firm_id, email)
      ) ENGINE=InnoDB DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  },
  async (runner: QueryRunner) => {
    await runner.query("DROP TABLE contacts");
  },
);

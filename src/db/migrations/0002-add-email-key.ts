import type { QueryRunner } from "typeorm";
import { EMAIL_KEY_MAX_BYTES, emailKeyColumnValue } from "../columns.js";
import { defineMigration } from "./define-migration.js";

/** Rows read and updated per statement: small, so each UPDATE holds its row locks for milliseconds. */
export const EMAIL_KEY_BATCH = 500;

type Row = { id: string; firm_id: string; email: string };

/**
 * Email identity moves from the email column's collation to email_key, the domain's emailKey() as bytes, unique
 * per firm (issue 11). The key is computed here in Node by the same function the service uses, in batches by
 * id, each UPDATE committing on its own (no transaction), so the table is never locked for long. If rows of one
 * firm share a key, or a key is too long for its column, the migration drops the column it added and stops
 * with a message naming the rows: the schema and the data are left as they were, and the next start tries again.
 * The email column keeps its case-insensitive collation; its unique index goes, since it no longer decides
 * identity and no query reads by it.
 */
export const AddEmailKey = defineMigration(
  "AddEmailKey1796000000000",
  async (runner: QueryRunner) => {
    // A start that crashed half-way left the column; it is filled again from the start.
    if (!(await hasEmailKeyColumn(runner))) {
      await runner.query(`ALTER TABLE contacts ADD COLUMN email_key VARBINARY(${EMAIL_KEY_MAX_BYTES}) NULL`);
    }
    try {
      const tooLong = await fillEmailKeys(runner);
      const collisions = await sharedKeys(runner);
      if (tooLong.length > 0 || collisions.length > 0) {
        throw new Error(refusal(tooLong, collisions));
      }
      await runner.query(`
        ALTER TABLE contacts
        MODIFY email_key VARBINARY(${EMAIL_KEY_MAX_BYTES}) NOT NULL,
        ADD UNIQUE KEY uq_contacts_firm_email_key (firm_id, email_key),
        DROP INDEX uq_contacts_firm_email`);
    } catch (error) {
      await runner.query("ALTER TABLE contacts DROP COLUMN email_key").catch(() => undefined);
      throw error;
    }
  },
  async (runner: QueryRunner) => {
    await runner.query(`
      ALTER TABLE contacts
      ADD UNIQUE KEY uq_contacts_firm_email (firm_id, email),
      DROP INDEX uq_contacts_firm_email_key,
      DROP COLUMN email_key`);
  },
  { transaction: false },
);

async function hasEmailKeyColumn(runner: QueryRunner): Promise<boolean> {
  const rows: unknown[] = await runner.query(
    "SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'contacts' AND COLUMN_NAME = 'email_key'",
  );
  return rows.length > 0;
}

/**
 * Writes the key of every row, walking the primary key in batches, then once more over the rows still without
 * a key (written meanwhile by an instance of the previous version). Returns the ids whose key is too long,
 * which are left without one.
 */
async function fillEmailKeys(runner: QueryRunner): Promise<string[]> {
  const tooLong: string[] = [];
  const fill = async (rows: readonly Row[]) => {
    const keyed: [string, Buffer][] = [];
    for (const row of rows) {
      const key = emailKeyColumnValue(row.email);
      if (key.length > EMAIL_KEY_MAX_BYTES) tooLong.push(row.id);
      else keyed.push([row.id, key]);
    }
    if (keyed.length === 0) return;
    await runner.query(
      `UPDATE contacts SET email_key = CASE id ${keyed.map(() => "WHEN ? THEN ?").join(" ")} END WHERE id IN (${keyed.map(() => "?").join(", ")})`,
      [...keyed.flat(), ...keyed.map(([id]) => id)],
    );
  };
  let after = "";
  for (;;) {
    const rows: Row[] = await runner.query(
      "SELECT id, firm_id, email FROM contacts WHERE id > ? ORDER BY id LIMIT ?",
      [after, EMAIL_KEY_BATCH],
    );
    if (rows.length === 0) break;
    await fill(rows);
    after = (rows[rows.length - 1] as Row).id;
  }
  after = "";
  for (;;) {
    const rows: Row[] = await runner.query(
      "SELECT id, firm_id, email FROM contacts WHERE email_key IS NULL AND id > ? ORDER BY id LIMIT ?",
      [after, EMAIL_KEY_BATCH],
    );
    if (rows.length === 0) break;
    await fill(rows);
    after = (rows[rows.length - 1] as Row).id;
  }
  return tooLong;
}

/** Groups of rows of one firm whose emails have one key: one contact by the new rule, two rows in the table. */
async function sharedKeys(runner: QueryRunner): Promise<{ firmId: string; ids: string }[]> {
  const rows: { firm_id: string; ids: string }[] = await runner.query(`
    SELECT firm_id, GROUP_CONCAT(id ORDER BY id SEPARATOR ', ') AS ids
    FROM contacts WHERE email_key IS NOT NULL
    GROUP BY firm_id, email_key HAVING COUNT(*) > 1
    ORDER BY firm_id LIMIT 50`);
  return rows.map((row) => ({ firmId: row.firm_id, ids: String(row.ids) }));
}

/** The refusal, naming rows by firm and id (not by email, which is personal data and lands in logs). */
function refusal(tooLong: readonly string[], collisions: readonly { firmId: string; ids: string }[]): string {
  const parts = ["migration AddEmailKey changed nothing"];
  if (collisions.length > 0) {
    const groups = collisions.map(({ firmId, ids }) => `firm ${JSON.stringify(firmId)}: ${ids}`);
    parts.push(
      `These contacts of one firm have emails that are equal ignoring letter case (emailKey), so they would be one contact; merge or change them, then start again: ${groups.join("; ")}`,
    );
  }
  if (tooLong.length > 0) {
    parts.push(
      `These contacts have emails longer than ${EMAIL_KEY_MAX_BYTES} bytes once normalised; shorten them, then start again: ${tooLong.join(", ")}`,
    );
  }
  return parts.join(". ");
}

import type { QueryRunner } from "typeorm";
import { defineMigration } from "./define-migration.js";

/**
 * `contacts.assignments`: a copy of the contact's rows in contact_assignments, in the form every read of a contact
 * returns (`kind<TAB>id` lines ordered by kind and id, NULL for none), kept by the transaction that changes them.
 * Every read of a contact used to build it with a GROUP_CONCAT subquery, which `npm run bench:db-steps` showed
 * costing about 100 µs of database CPU per upsert, though upserts never touch assignments and most contacts
 * have none. contact_assignments stays the record (its primary key keeps an assignment unique).
 * MEDIUMTEXT: 1000 ids of each kind, of up to 64 characters, exceed TEXT's 64 KiB. Filled for the contacts that
 * have assignments only, without touching their update_time.
 */
export const AssignmentsColumn = defineMigration(
  "AssignmentsColumn1796400000000",
  async (runner: QueryRunner) => {
    await runner.query(
      "ALTER TABLE contacts ADD COLUMN assignments MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL",
    );
    await runner.query(
      `UPDATE contacts c JOIN (SELECT a.contact_id, ${ASSIGNMENTS_OF("a")} AS assignments ` +
        "FROM contact_assignments a GROUP BY a.contact_id) g ON g.contact_id = c.id SET c.assignments = g.assignments",
    );
  },
  async (runner: QueryRunner) => {
    await runner.query("ALTER TABLE contacts DROP COLUMN assignments");
  },
);

/**
 * The aggregate of one contact's contact_assignments rows (table alias `alias`) as contacts.assignments holds it.
 * Needs group_concat_max_len above its longest value (the service's sessions set 1 MiB, see database.ts).
 */
export const ASSIGNMENTS_OF = (alias: string): string =>
  `GROUP_CONCAT(${alias}.kind, '\\t', ${alias}.ref_id ORDER BY ${alias}.kind, ${alias}.ref_id SEPARATOR '\\n')`;

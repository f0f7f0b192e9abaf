import type { QueryRunner } from "typeorm";
import { defineMigration } from "./define-migration.js";

/**
 * `contacts.blob_bytes`: the bytes of the contact's two long columns (note, assignments), computed by the server
 * on every write (a stored generated column). A page is sized from it before its rows are read
 * (ListContacts, see sized-read.ts): LENGTH() of those columns at read time fetches them from their overflow
 * pages, about 1.6 s for 200 contacts at the assignment maximum on this machine, while this column sits in the
 * row. The table is rebuilt once to fill it.
 */
export const BlobBytes = defineMigration(
  "BlobBytes1796500000000",
  async (runner: QueryRunner) => {
    await runner.query(
      "ALTER TABLE contacts ADD COLUMN blob_bytes INT UNSIGNED AS (COALESCE(LENGTH(note), 0) + COALESCE(LENGTH(assignments), 0)) PERSISTENT",
    );
  },
  async (runner: QueryRunner) => {
    await runner.query("ALTER TABLE contacts DROP COLUMN blob_bytes");
  },
);

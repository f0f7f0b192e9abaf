import type { QueryRunner } from "typeorm";
import { MAX_LENGTH } from "../../contacts/fields.js";
import { defineMigration } from "./define-migration.js";

/** The columns ListContacts' `name` filter reads, each indexed after firm_id. */
export const NAME_SEARCH_COLUMNS = ["first_name_search", "last_name_search"] as const;

/** The index of a name search column. */
export const nameSearchIndex = (column: (typeof NAME_SEARCH_COLUMNS)[number]) => `ix_contacts_firm_${column}`;

// Case- and accent-insensitive, and known to MySQL and MariaDB alike: "ann" finds "Ann" and "Änne".
const SEARCH_COLLATION = "utf8mb4_unicode_ci";

/**
 * Name search for ListContacts' filter (issue 20): the names under a case- and accent-insensitive collation, as
 * virtual generated columns (no stored copy) with an index each on (firm_id, column, update_time), so
 * `name = "ann*"` is two index range reads of the firm, never a scan, that also hold each match's update time
 * (and id, the primary key): a page of a common prefix is chosen from the index alone, and only its rows are
 * read. The names themselves stay utf8mb4_bin.
 */
export const ContactNameSearch = defineMigration(
  "ContactNameSearch1796700000000",
  async (runner: QueryRunner) => {
    const [first, last] = NAME_SEARCH_COLUMNS;
    await runner.query(`ALTER TABLE contacts
      ADD COLUMN ${first} VARCHAR(${MAX_LENGTH.firstName}) CHARACTER SET utf8mb4 COLLATE ${SEARCH_COLLATION} AS (first_name) VIRTUAL,
      ADD COLUMN ${last} VARCHAR(${MAX_LENGTH.lastName}) CHARACTER SET utf8mb4 COLLATE ${SEARCH_COLLATION} AS (last_name) VIRTUAL,
      ADD INDEX ${nameSearchIndex(first)} (firm_id, ${first}, update_time),
      ADD INDEX ${nameSearchIndex(last)} (firm_id, ${last}, update_time)`);
  },
  async (runner: QueryRunner) => {
    const [first, last] = NAME_SEARCH_COLUMNS;
    await runner.query(`ALTER TABLE contacts DROP INDEX ${nameSearchIndex(first)}, DROP INDEX ${nameSearchIndex(last)},
      DROP COLUMN ${first}, DROP COLUMN ${last}`);
  },
);

import type { Connection } from "mysql2/promise";
import { afterEach, describe, expect, it } from "vitest";
import { newContactId } from "../../src/contacts/contact-id.js";
import { openDatabase } from "../../src/db/database.js";
import { CreateContacts } from "../../src/db/migrations/0001-create-contacts.js";
import { EMAIL_KEY_BATCH } from "../../src/db/migrations/0002-add-email-key.js";
import { databaseAtVersion, type VersionedDatabase } from "../support/versioned-database.js";

// Migration 0002 on a database that holds the schema of migration 0001 and rows written by the previous
// version. Each test owns a database of its own on the test server, dropped afterwards.

const created: VersionedDatabase[] = [];

afterEach(async () => {
  for (const database of created.splice(0)) await database.drop();
});

/** A new database migrated by 0001 only, the schema the previous version ran on, and a connection to it. */
async function oldSchemaDatabase(): Promise<{ url: string; db: Connection }> {
  const database = await databaseAtVersion("contacts_mig", [CreateContacts]);
  created.push(database);
  return { url: database.url, db: await database.connect() };
}

/** Inserts contacts as the previous version did: no email_key. Returns their ids, in the order given. */
async function insertOld(
  db: Connection,
  rows: readonly [firmId: string, email: string][],
): Promise<string[]> {
  const now = new Date();
  const values = rows.map(([firmId, email], i) => [
    newContactId(now.getTime() + i),
    firmId,
    null,
    email,
    "First",
    "Last",
    now,
    now,
  ]);
  for (let i = 0; i < values.length; i += 500) {
    await db.query(
      "INSERT INTO contacts (id, firm_id, tracking_id, email, first_name, last_name, create_time, update_time) VALUES ?",
      [values.slice(i, i + 500)],
    );
  }
  return values.map((row) => row[0] as string);
}

async function indexes(db: Connection): Promise<Record<string, string>> {
  const [rows] = await db.query(
    "SELECT INDEX_NAME AS name, NON_UNIQUE AS nonUnique, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) AS cols FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'contacts' GROUP BY INDEX_NAME, NON_UNIQUE",
  );
  return Object.fromEntries(
    (rows as { name: string; nonUnique: number | string; cols: string }[]).map((r) => [
      r.name,
      `${Number(r.nonUnique) === 0 ? "unique" : "plain"}(${r.cols})`,
    ]),
  );
}

async function columns(db: Connection): Promise<Record<string, string>> {
  const [rows] = await db.query(
    "SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLLATION_NAME AS collation FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'contacts'",
  );
  return Object.fromEntries(
    (rows as { name: string; type: string; nullable: string; collation: string | null }[]).map((r) => [
      r.name,
      `${r.type} ${r.nullable === "NO" ? "NOT NULL" : "NULL"} ${r.collation ?? ""}`.trim(),
    ]),
  );
}

async function allRows(db: Connection) {
  const [rows] = await db.query("SELECT * FROM contacts ORDER BY id");
  return rows as Record<string, unknown>[];
}

async function migrationNames(db: Connection): Promise<string[]> {
  const [rows] = await db.query("SELECT name FROM migrations ORDER BY id");
  return (rows as { name: string }[]).map((r) => r.name);
}

/** More rows than one batch, in three firms, in mixed case. */
function bulk(count: number): [string, string][] {
  return Array.from({ length: count }, (_, n) => [`firm-${n % 3}`, `User.${n}@Example.COM`]);
}

describe("migration 0002 (email_key) on a database of the previous version", () => {
  it("fills every key in batches, adds the unique (firm_id, email_key) index, drops the email index, and keeps the emails", async () => {
    const { url, db } = await oldSchemaDatabase();
    try {
      const special: [string, string][] = [
        ["firm-0", "ＪＯＳÉ@Example.com"],
        ["firm-0", "STRA\u1e9eE@example.de"],
        ["firm-0", "jose\u0301@example.fr"],
        ["firm-1", "ＪＯＳÉ@Example.com"],
      ];
      const rows = [...bulk(2 * EMAIL_KEY_BATCH + 7), ...special];
      await insertOld(db, rows);
      const before = await allRows(db);
      const oldColumns = await columns(db);

      const database = await openDatabase({ url, poolSize: 1, connectTimeoutMs: 5_000 });
      await database.close();

      // Every migration ran, later ones included.
      expect((await migrationNames(db)).slice(0, 2)).toEqual([
        "CreateContacts1764288000000",
        "AddEmailKey1796000000000",
      ]);
      expect(await indexes(db)).toEqual({
        PRIMARY: "unique(id)",
        uq_contacts_firm_tracking_id: "unique(firm_id,tracking_id)",
        uq_contacts_firm_email_key: "unique(firm_id,email_key)",
        // Migration 0003's, for ListContacts.
        ix_contacts_firm_update_time: "plain(firm_id,update_time,id)",
        // Migration 0009's, for ListContacts' name filter.
        ix_contacts_firm_first_name_search: "plain(firm_id,first_name_search,update_time)",
        ix_contacts_firm_last_name_search: "plain(firm_id,last_name_search,update_time)",
      });
      expect(await columns(db)).toEqual({
        ...oldColumns,
        email_key: "varbinary(1016) NOT NULL",
        // Migration 0006's copy of the assignments.
        assignments: "mediumtext NULL utf8mb4_bin",
        // Migration 0007's stored size of the long values.
        blob_bytes: "int(10) unsigned NULL",
        // Migration 0009's names for search, case- and accent-insensitive.
        first_name_search: "varchar(200) NULL utf8mb4_unicode_ci",
        last_name_search: "varchar(200) NULL utf8mb4_unicode_ci",
      });
      const after = await allRows(db);
      expect(after.map((row) => row.assignments)).toEqual(before.map(() => null));
      expect(
        after.map(
          ({
            email_key: _,
            assignments: __,
            blob_bytes: ___,
            first_name_search: _f,
            last_name_search: _l,
            ...rest
          }) => rest,
        ),
      ).toEqual(before);
      const keyOf = new Map(
        after.map((row) => [`${row.firm_id} ${row.email}`, (row.email_key as Buffer).toString()]),
      );
      expect(keyOf.get("firm-0 User.0@Example.COM")).toBe("user.0@example.com");
      expect(keyOf.get(`firm-1 User.${2 * EMAIL_KEY_BATCH + 6}@Example.COM`)).toBe(
        `user.${2 * EMAIL_KEY_BATCH + 6}@example.com`,
      );
      expect(keyOf.get("firm-0 ＪＯＳÉ@Example.com")).toBe("josé@example.com");
      expect(keyOf.get("firm-1 ＪＯＳÉ@Example.com")).toBe("josé@example.com");
      expect(keyOf.get("firm-0 STRA\u1e9eE@example.de")).toBe("straße@example.de");
      expect(keyOf.get("firm-0 jose\u0301@example.fr")).toBe("jos\u00e9@example.fr");
      expect(after.every((row) => (row.email_key as Buffer).length > 0)).toBe(true);

      // The new index decides identity: the same key in the same firm is a duplicate, in another firm it is not.
      const insert = (firmId: string, email: string, key: string) =>
        db.query(
          "INSERT INTO contacts (id, firm_id, email, email_key, first_name, last_name, create_time, update_time) VALUES (?, ?, ?, ?, 'F', 'L', NOW(3), NOW(3))",
          [newContactId(), firmId, email, Buffer.from(key)],
        );
      await expect(insert("firm-0", "user.0@example.com", "user.0@example.com")).rejects.toMatchObject({
        errno: 1062,
      });
      await insert("firm-9", "user.0@example.com", "user.0@example.com");
    } finally {
      await db.end();
    }
  });

  it("refuses rows of one firm that become one contact: names them, and leaves schema and data as they were", async () => {
    const { url, db } = await oldSchemaDatabase();
    try {
      // U+A7CC and U+A7CD are a case pair added in Unicode 16: the servers' older collation tables (UCA 14 on
      // MariaDB, 9 on MySQL) tell them apart, so the old unique index let both in.
      const [upper, lower, otherFirm] = await insertOld(db, [
        ["firm-0", "\ua7cc@example.com"],
        ["firm-0", "\ua7cd@example.com"],
        ["firm-1", "\ua7cc@example.com"],
      ]);
      await insertOld(db, bulk(EMAIL_KEY_BATCH + 3));
      const before = await allRows(db);
      const oldIndexes = await indexes(db);
      const oldColumns = await columns(db);

      // The failure this test expects goes to a list of its own instead of the test run's output.
      const migrationLog: string[] = [];
      const failure = await openDatabase({
        url,
        poolSize: 1,
        connectTimeoutMs: 5_000,
        logMigration: (message) => migrationLog.push(message),
      }).then(
        () => undefined,
        (error: Error) => error,
      );
      expect(failure?.message).toContain("migration AddEmailKey changed nothing");
      expect(failure?.message).toContain(`firm "firm-0": ${[upper, lower].sort().join(", ")}`);
      expect(failure?.message).not.toContain(otherFirm as string);
      expect(failure?.message).not.toContain("@example.com");
      expect(migrationLog).toContainEqual(expect.stringMatching(/^Migration "AddEmailKey\d+" failed/));

      expect(await migrationNames(db)).toEqual(["CreateContacts1764288000000"]);
      expect(await indexes(db)).toEqual(oldIndexes);
      expect(oldIndexes.uq_contacts_firm_email).toBe("unique(firm_id,email)");
      expect(await columns(db)).toEqual(oldColumns);
      expect(await allRows(db)).toEqual(before);

      // Once the duplicate is resolved by hand, the next start migrates.
      await db.query("DELETE FROM contacts WHERE id = ?", [lower]);
      const database = await openDatabase({ url, poolSize: 1, connectTimeoutMs: 5_000 });
      await database.close();
      expect((await migrationNames(db)).slice(0, 2)).toEqual([
        "CreateContacts1764288000000",
        "AddEmailKey1796000000000",
      ]);
      expect(Object.keys(await indexes(db))).toContain("uq_contacts_firm_email_key");
    } finally {
      await db.end();
    }
  });
});

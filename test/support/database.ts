import { randomUUID } from "node:crypto";
import { type Connection, createConnection, createPool, type Pool } from "mysql2/promise";
import { parseDatabaseUrl } from "../../src/db/database.js";

/** The database the tests use: TEST_DATABASE_URL, or a `contacts_test` database on the local server. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? "mysql://root@127.0.0.1:3306/contacts_test";

/** A firm id no other test uses, so each test owns its data without cleaning up. */
export function uniqueFirm(label = "t"): string {
  return `${label}-${randomUUID()}`.slice(0, 64);
}

let pool: Pool | undefined;

/**
 * A connection of the test's own to the test database, times in UTC like `sql`: for holding locks in a
 * transaction while the service works, as another writer would. The caller ends it.
 */
export function openTestConnection(): Promise<Connection> {
  const { credentials, database } = parseDatabaseUrl(TEST_DATABASE_URL);
  return createConnection({ ...credentials, database, timezone: "Z" });
}

/** Reads the database directly, bypassing the service, to check what was really stored. */
export async function sql<T = Record<string, unknown>>(
  statement: string,
  params: unknown[] = [],
): Promise<T[]> {
  pool ??= createPool({
    ...parseDatabaseUrl(TEST_DATABASE_URL).credentials,
    database: parseDatabaseUrl(TEST_DATABASE_URL).database,
    connectionLimit: 4,
    timezone: "Z",
  });
  const [rows] = await pool.query(statement, params);
  return rows as T[];
}

/** The stored contacts of a firm, oldest first. */
export function storedContacts(firmId: string) {
  return sql<Record<string, string | Date | null>>(
    "SELECT * FROM contacts WHERE firm_id = ? ORDER BY create_time, id",
    [firmId],
  );
}

export async function closeSqlPool(): Promise<void> {
  await pool?.end();
  pool = undefined;
}

import { setTimeout as sleep } from "node:timers/promises";
import { createPool, type Pool, type PoolConnection, type RowDataPacket } from "mysql2/promise";
import { newContactId } from "../src/contacts/contact-id.js";
import { emailKeyColumnValue } from "../src/db/columns.js";
import { parseDatabaseUrl } from "../src/db/database.js";
import { DATA_FIELD_NAMES, seedRequest, type UpsertRequest, type WorkloadShape } from "./workload.js";

/**
 * The database's limit: the service's upsert transaction written directly against mysql2, with no RPC, ORM,
 * validation or logging. Same statements as the service minus the ORM's extras: a locking read by the key,
 * an unlocked email check before a create, insert or update of the changed columns, commit. READ COMMITTED is
 * set once per connection (see `createRawPool`), not per transaction. Retried on duplicate key, deadlock and
 * lock timeout, like the service.
 */
export async function rawUpsert(pool: Pool, request: UpsertRequest): Promise<"created" | "updated"> {
  for (let attempt = 1; ; attempt++) {
    const connection = await pool.getConnection();
    const query = async (sql: string, values: unknown[] = []) => {
      const [rows] = await connection.query(sql, values);
      return rows as RowDataPacket[];
    };
    try {
      await query("START TRANSACTION");
      const result = await upsertInTransaction(query, request);
      await query("COMMIT");
      return result;
    } catch (error) {
      await rollback(connection);
      const errno = (error as { errno?: unknown }).errno;
      if (attempt >= 10 || !(errno === 1062 || errno === 1213 || errno === 1205)) throw error;
      await sleep(Math.random() * Math.min(100, 2 * 2 ** attempt));
    } finally {
      connection.release();
    }
  }
}

type CoreConnection = { query(sql: string, callback: (error: unknown) => void): void };

type Query = (sql: string, values?: unknown[]) => Promise<RowDataPacket[]>;

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
/** Each data field with its column. */
export const DATA_COLUMNS = DATA_FIELD_NAMES.map((field) => [field, snake(field)] as const);
const INSERT_SQL = `INSERT INTO contacts (id, firm_id, tracking_id, email, ${DATA_COLUMNS.map(([, c]) => c).join(", ")}, create_time, update_time, email_key) VALUES (?)`;

async function upsertInTransaction(query: Query, request: UpsertRequest): Promise<"created" | "updated"> {
  const { firmId, trackingId, email } = request;
  let stored: RowDataPacket | undefined;
  if (trackingId !== undefined) {
    [stored] = await query("SELECT * FROM contacts WHERE firm_id = ? AND tracking_id = ? FOR UPDATE", [
      firmId,
      trackingId,
    ]);
    if (stored === undefined) {
      const [taken] = await query("SELECT id FROM contacts WHERE firm_id = ? AND email_key = ?", [
        firmId,
        emailKeyColumnValue(email),
      ]);
      if (taken !== undefined) throw new Error("email taken: the workload should never produce this");
    }
  } else {
    [stored] = await query("SELECT * FROM contacts WHERE firm_id = ? AND email_key = ? FOR UPDATE", [
      firmId,
      emailKeyColumnValue(email),
    ]);
  }
  const now = new Date();
  if (stored === undefined) {
    await query(INSERT_SQL, [insertRow(request, now)]);
    return "created";
  }
  const changed = DATA_COLUMNS.filter(([field, column]) => stored[column] !== request[field]);
  if (changed.length > 0) {
    const sets = changed.map(([, column]) => `${column} = ?`).join(", ");
    await query(`UPDATE contacts SET ${sets}, update_time = ? WHERE id = ?`, [
      ...changed.map(([field]) => request[field]),
      now,
      stored.id,
    ]);
  }
  return "updated";
}

function insertRow(request: UpsertRequest, now: Date, id = newContactId(now.getTime())): unknown[] {
  return [
    id,
    request.firmId,
    request.trackingId ?? null,
    request.email,
    ...DATA_COLUMNS.map(([field]) => request[field]),
    now,
    now,
    emailKeyColumnValue(request.email),
  ];
}

async function rollback(connection: PoolConnection): Promise<void> {
  try {
    await connection.query("ROLLBACK");
  } catch {
    connection.destroy(); // a connection in an unknown state must not go back to the pool
  }
}

/**
 * A mysql2 pool on the database of `url` for the raw reference and the seeding: UTC datetimes like the service,
 * and READ COMMITTED set once per connection (the service sets it before every transaction).
 */
export function createRawPool(url: string, connectionLimit: number, multipleStatements = false): Pool {
  const { credentials, database } = parseDatabaseUrl(url);
  const pool = createPool({
    ...credentials,
    database,
    connectionLimit,
    multipleStatements,
    timezone: "Z",
    enableKeepAlive: true,
  });
  // mysql2 types this event's argument as a promise connection, but emits the core (callback) connection. Its
  // commands run in order, so the SET precedes the first transaction on the connection.
  pool.on("connection", (connection) => {
    (connection as unknown as CoreConnection).query(
      "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
      () => undefined,
    );
  });
  return pool;
}

/** Inserts the known contacts of every firm, in batches, before the first row runs. */
export async function seedContacts(pool: Pool, shape: WorkloadShape): Promise<number> {
  const now = new Date();
  const rows: unknown[][] = [];
  for (let f = 0; f < shape.firms; f++) {
    for (let k = 0; k < shape.seedPerFirm; k++) rows.push(insertRow(seedRequest(f, k), now));
  }
  for (let i = 0; i < rows.length; i += 500) {
    const batch = rows.slice(i, i + 500);
    await pool.query(INSERT_SQL.replace("VALUES (?)", "VALUES ?"), [batch]);
  }
  return rows.length;
}

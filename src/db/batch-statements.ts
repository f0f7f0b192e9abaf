import type { BatchKeys, BatchWrites, ContactChange } from "../contacts/batch-types.js";
import type { Contact } from "../contacts/contact.js";
import { columnOf, emailKeyColumnValue } from "./columns.js";
import { TICK } from "./firm-clock.js";

/** One SQL statement with its `?` parameters. */
export interface Statement {
  readonly sql: string;
  readonly params: readonly unknown[];
}

// The limits a batch's statements stay within. mysql2 fills `?` in on the client (text protocol), so the
// prepared-statement limit of 65,535 placeholders does not apply; it is respected anyway, with a wide margin,
// in case the driver is switched to prepared statements. The packet limit does apply: a round trip's SQL must
// fit max_allowed_packet (4 MiB on MySQL 5.7, 16 MiB on MariaDB, 64 MiB on MySQL 8), so round trips are cut at
// ROUND_TRIP_BYTES, counting every parameter at twice its UTF-8 size (escaping doubles at worst).
const INSERT_ROWS = 250;
const UPDATE_ROWS = 100; // CASE id WHEN ... is searched linearly per row: keep it short
export const ROUND_TRIP_BYTES = 4 * 1024 * 1024;

/**
 * The one statement that reads a batch's candidates: the rows holding any of its tracking ids, then those holding
 * any of its emails (by the email's identity key, email_key, like every lookup by email), each part on its
 * unique index and locked (FOR UPDATE) until the transaction ends. A row
 * holding both keys comes back twice; the caller keeps one.
 */
export function selectByKeys(columns: string, firmId: string, keys: BatchKeys): Statement | undefined {
  // `columns` reads the table as `c` (the repository's column list, assignments included).
  const parts: string[] = [];
  const params: unknown[] = [];
  for (const [column, values] of [
    ["tracking_id", keys.trackingIds],
    ["email_key", keys.emails.map(emailKeyColumnValue)],
  ] as const) {
    if (values.length === 0) continue;
    parts.push(
      `(SELECT ${columns} FROM contacts c WHERE c.firm_id = ? AND c.${column} IN (${placeholders(values.length)}) FOR UPDATE)`,
    );
    params.push(firmId, ...values);
  }
  return parts.length === 0 ? undefined : { sql: parts.join(" UNION ALL "), params };
}

/**
 * A batch's writes as statements, in the two forms of PipelinedTransaction.claimKeys (see firm-clock.ts for
 * the lock order):
 * - `stamped`, sent after the firm's clock ticks: multi-row INSERTs of the new contacts with the tick as their
 *   times, and for the updated ones (rows the batch holds locked) one UPDATE per group of contacts that changed
 *   the same columns, setting each row's value with CASE on the primary key, and the tick as update time;
 * - for a batch too large for one round trip, `claims`, the same statements with a provisional time, sent before
 *   the tick, and `stamps`, sent after it: one UPDATE per kind setting the tick as create and update time (new
 *   contacts) or update time (changed ones), by id.
 * Never INSERT ... ON DUPLICATE KEY UPDATE: with two unique keys it may update the wrong row.
 */
export function writeStatements(
  properties: readonly (keyof Contact)[],
  writes: BatchWrites,
): { claims: Statement[]; stamps: Statement[]; stamped: Statement[] } {
  const columns = properties.map((property) => columnOf(property)).join(", ");
  const isTime = (p: keyof Contact) => p === "createTime" || p === "updateTime";
  const values = properties.filter((p) => !isTime(p));
  const claims: Statement[] = [];
  const stamped: Statement[] = [];
  // The two forms of a write share its parameters: only the time it writes differs (null: a provisional one).
  const both = (sql: (tick: string | null) => string, params: readonly unknown[]) => {
    claims.push({ sql: sql(null), params });
    stamped.push({ sql: sql(TICK), params });
  };
  const row = (time: string) => `(${properties.map((p) => (isTime(p) ? time : "?")).join(", ")}, ?)`;
  const rows = { provisional: row("UTC_TIMESTAMP(3)"), stamped: row(TICK) };
  const insertSize = (contact: Contact) =>
    values.reduce((n, p) => n + paramBytes(contact[p]), paramBytes(emailKeyColumnValue(contact.email)));
  for (const chunk of chunks(writes.inserts, INSERT_ROWS, insertSize)) {
    both(
      (tick) =>
        `INSERT INTO contacts (${columns}, email_key) VALUES ${Array(chunk.length)
          .fill(tick === null ? rows.provisional : rows.stamped)
          .join(", ")}`,
      chunk.flatMap((contact) => [
        ...values.map((property) => contact[property]),
        emailKeyColumnValue(contact.email),
      ]),
    );
  }
  const groups = new Map<string, ContactChange[]>();
  for (const change of writes.updates) {
    const key = change.changed.join(",");
    groups.set(key, [...(groups.get(key) ?? []), change]);
  }
  for (const group of groups.values()) {
    const size = ({ contact, changed }: ContactChange) =>
      changed.reduce((n, p) => n + paramBytes(contact[p]), 0);
    for (const chunk of chunks(group, UPDATE_ROWS, size)) {
      const { sets, where, params } = updateParts(chunk);
      both(
        (tick) => `UPDATE contacts SET ${sets}${tick === null ? "" : `, update_time = ${tick}`} ${where}`,
        params,
      );
    }
  }
  const stamps: Statement[] = [];
  const firmId = (writes.inserts[0] ?? writes.updates[0]?.contact)?.firmId ?? "";
  const stamp = (sets: string, ids: readonly string[]) => {
    if (ids.length === 0) return;
    stamps.push({
      sql: `UPDATE contacts SET ${sets} WHERE firm_id = ? AND id IN (${placeholders(ids.length)})`,
      params: [firmId, ...ids],
    });
  };
  stamp(
    `create_time = ${TICK}, update_time = ${TICK}`,
    writes.inserts.map((c) => c.id),
  );
  stamp(
    `update_time = ${TICK}`,
    writes.updates.map((u) => u.contact.id),
  );
  return { claims, stamps, stamped };
}

/** An UPDATE ... CASE of contacts that changed the same columns: its SET list, WHERE clause and parameters. */
function updateParts(changes: readonly ContactChange[]): { sets: string; where: string; params: unknown[] } {
  const first = changes[0] as ContactChange;
  const firmId = first.contact.firmId;
  const whens = changes.map(() => "WHEN ? THEN ?").join(" ");
  const sets = first.changed.map((p) => `${columnOf(p)} = CASE id ${whens} END`).join(", ");
  const params: unknown[] = [];
  for (const property of first.changed) {
    for (const { contact } of changes) params.push(contact.id, contact[property]);
  }
  params.push(firmId, ...changes.map(({ contact }) => contact.id));
  // Scoped by firm like every statement, so that a shard keyed by firm can route it.
  return { sets, where: `WHERE firm_id = ? AND id IN (${placeholders(changes.length)})`, params };
}

/** Groups statements into round trips of at most ROUND_TRIP_BYTES each (a statement larger than that alone). */
export function roundTrips(statements: readonly Statement[], budget = ROUND_TRIP_BYTES): Statement[][] {
  return chunks(statements, Number.POSITIVE_INFINITY, statementBytes, budget);
}

function statementBytes({ sql, params }: Statement): number {
  let bytes = sql.length;
  for (const param of params) bytes += paramBytes(param);
  return bytes;
}

function paramBytes(param: unknown): number {
  if (typeof param === "string") return 2 * Buffer.byteLength(param) + 2;
  return Buffer.isBuffer(param) ? 2 * param.length + 3 : 32; // a Buffer is sent as X'hex'
}

function placeholders(n: number): string {
  return Array(n).fill("?").join(", ");
}

/** Cuts items into runs of at most `rows` items and, past the first item of a run, `budget` bytes. */
export function chunks<T>(
  items: readonly T[],
  rows: number,
  bytesOf: (item: T) => number,
  budget = ROUND_TRIP_BYTES,
): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    const bytes = bytesOf(item);
    if (current.length === rows || (current.length > 0 && size + bytes > budget)) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += bytes;
  }
  if (current.length > 0) out.push(current);
  return out;
}

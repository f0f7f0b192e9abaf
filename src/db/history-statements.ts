import type { Actor } from "../contacts/actor.js";
import type { ChangesQuery } from "../contacts/contact-store.js";
import type { ChangeKind, FieldChange, HistoryEntry, RecordedChange } from "../contacts/history-entry.js";
import { chunks, type Statement } from "./batch-statements.js";
import { TICK } from "./firm-clock.js";

/**
 * The change history's SQL (table contact_changes, migration 0004). A change is one row: its field changes are
 * one JSON array of [field, old, new] triples in the `fields` column, so recording a change costs one row in one
 * multi-row INSERT, whatever the number of fields.
 */

const COLUMNS = "firm_id, contact_id, change_time, seq, principal, request_id, kind, fields";
const ROW = `(?, ?, ${TICK}, ?, ?, ?, ?, ?)`;
// Rows per INSERT, and bytes: a statement must fit one packet (see batch-statements.ts).
const INSERT_ROWS = 500;

type Triple = [string, string | null, string | null];

/**
 * The INSERTs recording `entries` for one transaction: stamped with its tick (so they are `write`s, sent after
 * the firm clock's tick), each entry's seq its place in the list. Empty for no entries.
 */
export function recordStatements(
  firmId: string,
  actor: Actor,
  entries: readonly HistoryEntry[],
): Statement[] {
  const rows = entries.map((entry, seq) => {
    const fields = JSON.stringify(entry.fields.map((f): Triple => [f.field, f.oldValue, f.newValue]));
    const params = [firmId, entry.contactId, seq, actor.principal, actor.requestId, entry.kind, fields];
    // Escaping at most doubles a string; the other parameters are small.
    return { params, bytes: 2 * Buffer.byteLength(fields) + 256 };
  });
  return chunks(rows, INSERT_ROWS, (row) => row.bytes).map((run) => ({
    sql: `INSERT INTO contact_changes (${COLUMNS}) VALUES ${Array(run.length).fill(ROW).join(", ")}`,
    params: run.flatMap((row) => row.params),
  }));
}

/**
 * The SELECT of one page of a contact's changes, newest first, keyset-paged on the primary key, with the given
 * columns (the change's, or its place and size).
 */
export function listChangesStatement(query: ChangesQuery, columns: string): Statement {
  const { firmId, contactId, before, through, limit } = query;
  const after = before === null ? "" : " AND (change_time < ? OR (change_time = ? AND seq < ?))";
  const until = through === undefined ? "" : " AND (change_time > ? OR (change_time = ? AND seq >= ?))";
  return {
    sql:
      `SELECT ${columns} FROM contact_changes ` +
      `WHERE firm_id = ? AND contact_id = ?${after}${until} ORDER BY change_time DESC, seq DESC LIMIT ?`,
    params: [
      firmId,
      contactId,
      ...(before === null ? [] : [before.time, before.time, before.seq]),
      ...(through === undefined ? [] : [through.time, through.time, through.seq]),
      limit,
    ],
  };
}

/** Whether the firm has the contact, live or as a tombstone: one statement, two primary-key lookups. */
export function contactExistsStatement(firmId: string, id: string): Statement {
  return {
    sql:
      "SELECT (EXISTS (SELECT 1 FROM contacts WHERE firm_id = ? AND id = ?) OR " +
      "EXISTS (SELECT 1 FROM contact_tombstones WHERE firm_id = ? AND id = ?)) AS found",
    params: [firmId, id, firmId, id],
  };
}

/** A stored change row as the domain reads it. */
export function toRecordedChange(row: Record<string, unknown>, contactId: string): RecordedChange {
  const triples = JSON.parse(String(row.fields)) as Triple[];
  return {
    contactId,
    changeTime: row.change_time as Date,
    seq: Number(row.seq),
    principal: String(row.principal),
    requestId: (row.request_id as string | null) ?? null,
    kind: row.kind as ChangeKind,
    fields: triples.map(([field, oldValue, newValue]): FieldChange => ({ field, oldValue, newValue })),
  };
}

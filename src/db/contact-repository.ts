import { ASSIGNMENT_KINDS, type AssignmentChange, type AssignmentKind } from "../contacts/assignments.js";
import type { Contact, ListedContact, UpsertInput } from "../contacts/contact.js";
import type { ContactStore, PageQuery } from "../contacts/contact-store.js";
import { DATA_FIELDS } from "../contacts/fields.js";
import type { ListFilter } from "../contacts/list-filter.js";
import type { UpdatableField } from "../contacts/update-mask.js";
import { roundTrips, type Statement, selectByKeys, writeStatements } from "./batch-statements.js";
import { columnOf, emailKeyColumnValue } from "./columns.js";
import { TICK } from "./firm-clock.js";
import {
  contactExistsStatement,
  listChangesStatement,
  recordStatements,
  toRecordedChange,
} from "./history-statements.js";
import { ASSIGNMENTS_OF } from "./migrations/0006-assignments-column.js";
import { NAME_SEARCH_COLUMNS, nameSearchIndex } from "./migrations/0009-contact-name-search.js";
import type { PipelinedTransaction } from "./pipelined-transaction.js";
import { requestOutcomes } from "./request-outcomes.js";

// Every stored column, in one fixed order shared by SELECT, INSERT and the tombstones' copy.
const PROPERTIES = [
  "id",
  "firmId",
  "trackingId",
  "email",
  ...DATA_FIELDS,
  "createTime",
  "updateTime",
] as const;
const COLUMNS = PROPERTIES.map((property) => columnOf(property));

/** How each kind of assignment is stored in contact_assignments.kind. */
const KIND_VALUE: Readonly<Record<AssignmentKind, string>> = {
  clientIds: "client",
  investmentEntityIds: "investment_entity",
};
// Ids never contain control characters (validate-assignment), so a line feed separates the assignments and a
// tab a kind from its id, safely.
const SEPARATOR = "\n";
const KIND_SEPARATOR = "\t";
const KIND_OF_VALUE: ReadonlyMap<string, AssignmentKind> = new Map(
  ASSIGNMENT_KINDS.map((kind) => [KIND_VALUE[kind], kind]),
);
// The contact's assignments come with it from its own row (contacts.assignments, migration 0006), which every
// change of its assignments rewrites from contact_assignments in the same transaction.
const LIVE_COLUMNS = `${COLUMNS.map((c) => `c.${c}`).join(", ")}, c.assignments`;
// Every statement names the firm on each table it reads or writes, subqueries included, so that a database
// sharded by firm_id (Vitess, docs/vitess.md) routes it to one shard.
const REFRESH_ASSIGNMENTS = `UPDATE contacts SET assignments = (SELECT ${ASSIGNMENTS_OF("a")} FROM contact_assignments a WHERE a.firm_id = ? AND a.contact_id = ?), update_time = ${TICK} WHERE firm_id = ? AND id = ?`;
const SELECT = `SELECT ${LIVE_COLUMNS} FROM contacts c WHERE c.firm_id = ? AND`;
// Writes stamp their rows with the transaction's tick of the firm clock (firm-clock.ts). A new row claims unique
// keys: it is inserted with the tick under the clock, or, in a transaction too large for one round trip, before the
// tick with a provisional time and stamped after it (PipelinedTransaction.claimKeys). email_key is written with
// every insert and email change and never read back: it is emailKey(email).
const insertWith = (time: string) =>
  `INSERT INTO contacts (${COLUMNS.join(", ")}, email_key) VALUES (${PROPERTIES.map((p) =>
    p === "createTime" || p === "updateTime" ? time : "?",
  ).join(", ")}, ?)`;
const INSERT = insertWith("UTC_TIMESTAMP(3)");
const INSERT_STAMPED = insertWith(TICK);
const STAMP_CREATED = `UPDATE contacts SET create_time = ${TICK}, update_time = ${TICK} WHERE firm_id = ? AND id = ?`;
const STAMP_UPDATED = `UPDATE contacts SET update_time = ${TICK} WHERE firm_id = ? AND id = ?`;
// Fields whose change claims a unique key of the firm.
const KEY_FIELDS: ReadonlySet<UpdatableField> = new Set(["email", "trackingId"]);
const INSERT_PARAMS = PROPERTIES.filter((p) => p !== "createTime" && p !== "updateTime");
const TOMBSTONE = `INSERT INTO contact_tombstones (${COLUMNS.join(", ")}, delete_time) SELECT ${COLUMNS.map(
  (c) => (c === "update_time" ? TICK : c),
).join(", ")}, ${TICK} FROM contacts WHERE firm_id = ? AND id = ?`;

/**
 * How a contact is located by email, for every query that does: by the email's identity key, never by the
 * email column, whose collation merges more than letter case (see src/contacts/email-key.ts).
 */
export const BY_EMAIL = { column: "email_key", value: emailKeyColumnValue } as const;
const BY_TRACKING_ID = { column: "tracking_id", value: (trackingId: string) => trackingId } as const;
const BY_ID = { column: "id", value: (id: string) => id } as const;

type Row = Record<string, unknown>;
type Lookup = typeof BY_EMAIL | typeof BY_TRACKING_ID | typeof BY_ID;

// Each lookup's statement, locked and not, built once.
const LOOKUPS: ReadonlyMap<Lookup, readonly [plain: string, locked: string]> = new Map(
  [BY_EMAIL, BY_TRACKING_ID, BY_ID].map((by) => {
    const plain = `${SELECT} c.${by.column} = ?`;
    return [by, [plain, `${plain} FOR UPDATE`]] as const;
  }),
);
const lookupStatement = (by: Lookup, lock: boolean): string =>
  (LOOKUPS.get(by) as readonly [string, string])[lock ? 1 : 0];
const firstContact = (rows: readonly Row[]): Contact | null =>
  rows[0] === undefined ? null : toContact(rows[0]);

/** Contact ids are ASCII UUIDs; anything else cannot name a stored contact (and is not sent to an ASCII column). */
const POSSIBLE_ID = /^[\x21-\x7e]{1,36}$/;

/**
 * The ContactStore over one transaction. Thin: each method is one statement, written as SQL: the statements the
 * raw-driver baseline in bench/ runs, since on this hot path the ORM's query builder and entity hydration cost
 * more CPU than the statements. Writes are deferred to the commit (see pipelined-transaction.ts).
 */
export function contactRepository(tx: PipelinedTransaction): ContactStore {
  const findOne = async (by: Lookup, firmId: string, value: string, lock: boolean) => {
    const rows = await tx.query<Row>(lookupStatement(by, lock), [firmId, by.value(value)]);
    return firstContact(rows);
  };
  // Every lookup by email goes through here: the firm's email identity is decided in this one place.
  const findByEmail = (firmId: string, email: string, lock: boolean) =>
    findOne(BY_EMAIL, firmId, email, lock);

  const outcomes = requestOutcomes(tx);
  return {
    // Named, not spread: with a spread ahead of its methods, V8 built each repository the slow way, 24 µs a
    // transaction against 30 ns (a million built in a loop, round three).
    claimRequestId: outcomes.claimRequestId,
    saveRequestOutcome: outcomes.saveRequestOutcome,

    async findUpsertCandidates(input: UpsertInput) {
      if (input.trackingId !== undefined) {
        if (input.email === undefined) {
          return {
            byTrackingId: await findOne(BY_TRACKING_ID, input.firmId, input.trackingId, true),
            byEmail: null,
          };
        }
        // Only a create needs to know whether the email is taken (the unique index has the final word), but the
        // check travels with the tracking id's read: a create then takes two round trips instead of three, and
        // an update by tracking id pays one indexed read it does not use.
        const [trackingRows, emailRows] = (await tx.queryAll([
          [lookupStatement(BY_TRACKING_ID, true), [input.firmId, input.trackingId]],
          [lookupStatement(BY_EMAIL, false), [input.firmId, BY_EMAIL.value(input.email)]],
        ])) as [Row[], Row[]];
        const byTrackingId = firstContact(trackingRows);
        if (byTrackingId !== null) return { byTrackingId, byEmail: null };
        const byEmail = firstContact(emailRows);
        if (byEmail?.trackingId === input.trackingId) {
          // READ COMMITTED reads each statement's latest commit: a concurrent creator of this very contact
          // committed between the two reads. It is the match, not a conflict: read it again, locked.
          return {
            byTrackingId: await findOne(BY_TRACKING_ID, input.firmId, input.trackingId, true),
            byEmail,
          };
        }
        return { byTrackingId, byEmail };
      }
      const byEmail = input.email === undefined ? null : await findByEmail(input.firmId, input.email, true);
      return { byTrackingId: null, byEmail };
    },

    findById(firmId, id, lock) {
      return POSSIBLE_ID.test(id) ? findOne(BY_ID, firmId, id, lock) : Promise.resolve(null);
    },

    findByEmail: (firmId, email) => findByEmail(firmId, email, false),

    findByTrackingId: (firmId, trackingId) => findOne(BY_TRACKING_ID, firmId, trackingId, false),

    async insert(contact: Contact) {
      const params = [...INSERT_PARAMS.map((property) => contact[property]), BY_EMAIL.value(contact.email)];
      tx.claimKeys(contact.firmId, {
        stamped: [[INSERT_STAMPED, params]],
        early: [[INSERT, params]],
        stamps: [[STAMP_CREATED, [contact.firmId, contact.id]]],
      });
    },

    async update(contact: Contact, changed: readonly UpdatableField[]) {
      const sets = [
        ...changed.map((field) => `${columnOf(field)} = ?`),
        // A new email (UpdateContact) brings its identity key along.
        ...(changed.includes("email") ? [`${BY_EMAIL.column} = ?`] : []),
      ].join(", ");
      const values = [
        ...changed.map((field) => contact[field]),
        ...(changed.includes("email") ? [BY_EMAIL.value(contact.email)] : []),
      ];
      // Scoped by firm too, like every statement here, so that a shard keyed by firm can route it.
      const key = [contact.firmId, contact.id];
      if (changed.some((field) => KEY_FIELDS.has(field))) {
        const params = [...values, ...key];
        tx.claimKeys(contact.firmId, {
          stamped: [
            [`UPDATE contacts SET ${sets}, update_time = ${TICK} WHERE firm_id = ? AND id = ?`, params],
          ],
          early: [[`UPDATE contacts SET ${sets} WHERE firm_id = ? AND id = ?`, params]],
          stamps: [[STAMP_UPDATED, key]],
        });
      } else {
        // Only this transaction's locked row: safe to write while holding the clock, in one statement.
        tx.write(
          contact.firmId,
          `UPDATE contacts SET ${sets}, update_time = ${TICK} WHERE firm_id = ? AND id = ?`,
          [...values, ...key],
        );
      }
    },

    async remove(contact: Contact) {
      const key = [contact.firmId, contact.id];
      tx.write(contact.firmId, TOMBSTONE, key);
      tx.write(contact.firmId, "DELETE FROM contact_assignments WHERE firm_id = ? AND contact_id = ?", key);
      tx.write(contact.firmId, "DELETE FROM contacts WHERE firm_id = ? AND id = ?", key);
    },

    async changeAssignments(contact: Contact, change: AssignmentChange) {
      for (const kind of ASSIGNMENT_KINDS) {
        const add = change.add[kind];
        if (add.length > 0) {
          tx.write(
            contact.firmId,
            `INSERT INTO contact_assignments (contact_id, kind, ref_id, firm_id) VALUES ${add.map(() => "(?, ?, ?, ?)").join(", ")}`,
            add.flatMap((id) => [contact.id, KIND_VALUE[kind], id, contact.firmId]),
          );
        }
        const remove = change.remove[kind];
        if (remove.length > 0) {
          tx.write(
            contact.firmId,
            `DELETE FROM contact_assignments WHERE firm_id = ? AND contact_id = ? AND kind = ? AND ref_id IN (${remove.map(() => "?").join(", ")})`,
            [contact.firmId, contact.id, KIND_VALUE[kind], ...remove],
          );
        }
      }
      tx.write(contact.firmId, REFRESH_ASSIGNMENTS, [contact.firmId, contact.id, contact.firmId, contact.id]);
    },

    async listPage(query: PageQuery) {
      const rows = await tx.query<Row>(...pageStatement(query, LIVE_COLUMNS, DEAD_COLUMNS));
      return rows.map(toListed);
    },

    async pageSizes(query: PageQuery) {
      const rows = await tx.query<Row>(...pageStatement(query, sizeOf("c.", true), sizeOf("t.", false)));
      return rows.map((row) => ({
        place: { time: row.update_time as Date, id: row.id as string },
        bytes: Number(row.bytes),
      }));
    },

    async findByKeys(firmId, keys) {
      const select = selectByKeys(LIVE_COLUMNS, firmId, keys);
      if (select === undefined) return [];
      const rows = await tx.query<Row>(select.sql, select.params);
      // A row holding two of the keys comes back from both parts of the read.
      const byId = new Map(rows.map((row) => [row.id as string, row]));
      return [...byId.values()].map(toContact);
    },

    async writeBatch(firmId, writes) {
      const { claims, stamps, stamped } = writeStatements(PROPERTIES, writes);
      if (stamped.length === 0) return; // nothing changed: the firm's clock must not tick
      const trips = roundTrips(claims);
      if (trips.length === 1) {
        const queued = (statements: Statement[]) =>
          statements.map(({ sql, params }) => [sql, params] as const);
        tx.claimKeys(firmId, { stamped: queued(stamped), early: queued(claims), stamps: queued(stamps) });
        return;
      }
      // All but the last round trip go before the commit, only when the rows would not fit one packet.
      for (const [i, trip] of trips.entries()) {
        for (const statement of trip) tx.claim(firmId, statement.sql, statement.params);
        if (i < trips.length - 1) await tx.flush();
      }
      for (const statement of stamps) tx.write(firmId, statement.sql, statement.params);
    },

    async recordChanges(firmId, actor, entries) {
      for (const { sql, params } of recordStatements(firmId, actor, entries)) tx.write(firmId, sql, params);
    },

    async listChanges(query) {
      if (!POSSIBLE_ID.test(query.contactId)) return [];
      const { sql, params } = listChangesStatement(query, CHANGE_COLUMNS);
      return (await tx.query<Row>(sql, params)).map((row) => toRecordedChange(row, query.contactId));
    },

    async changeSizes(query) {
      if (!POSSIBLE_ID.test(query.contactId)) return [];
      const { sql, params } = listChangesStatement(query, CHANGE_SIZE);
      return (await tx.query<Row>(sql, params)).map((row) => ({
        place: { time: row.change_time as Date, seq: Number(row.seq) },
        bytes: Number(row.bytes),
      }));
    },

    async contactExists(firmId, id) {
      if (!POSSIBLE_ID.test(id)) return false;
      const { sql, params } = contactExistsStatement(firmId, id);
      const [row] = await tx.query<Row>(sql, params);
      return Number(row?.found) === 1;
    },
  };
}

/**
 * The keyset condition of a page, for a table alias, and its parameters. Newest first flips the comparisons:
 * `after` is then the cursor the page continues below, `through` its lower end.
 */
function pageCondition(query: PageQuery): [(alias: string) => string, unknown[]] {
  const { after, through } = query;
  const [past, before] = query.order === "desc" ? ["<", ">"] : [">", "<"];
  const parts: ((t: string) => string)[] = [(t) => `${t}firm_id = ?`];
  const params: unknown[] = [query.firmId];
  if (after !== null && after.id === null) {
    parts.push((t) => `${t}update_time ${past} ?`);
    params.push(after.time);
  } else if (after !== null) {
    parts.push((t) => `(${t}update_time ${past} ? OR (${t}update_time = ? AND ${t}id ${past} ?))`);
    params.push(after.time, after.time, after.id);
  }
  if (through !== undefined) {
    parts.push((t) => `(${t}update_time ${before} ? OR (${t}update_time = ? AND ${t}id ${before}= ?))`);
    params.push(through.time, through.time, through.id);
  }
  if (query.since) {
    parts.push((t) => `${t}update_time > ?`);
    params.push(query.since);
  }
  return [(t) => parts.map((part) => part(t)).join(" AND "), params];
}

const DEAD_COLUMNS = `${COLUMNS.map((c) => `t.${c}`).join(", ")}, NULL`;
// A row's stored bytes: what its text columns hold (LENGTH counts bytes), read without sending them. A live row's
// long columns are counted by the server at write time (blob_bytes, migration 0007): LENGTH() would fetch them.
const SHORT_COLUMNS = COLUMNS.filter((c) => !["create_time", "update_time", "note"].includes(c));
const sizeOf = (alias: string, live: boolean) =>
  `${alias}update_time, ${alias}id, ${[
    ...SHORT_COLUMNS.map((c) => `COALESCE(LENGTH(${alias}${c}), 0)`),
    live ? `${alias}blob_bytes` : `COALESCE(LENGTH(${alias}note), 0)`,
  ].join(" + ")} AS bytes`;
const CHANGE_COLUMNS = "change_time, seq, principal, request_id, kind, fields";
// A change's fields are a JSON array of triples; each triple costs more framing on the wire than in the column.
const CHANGE_SIZE =
  "change_time, seq, LENGTH(fields) + 128 * JSON_LENGTH(fields) + LENGTH(principal) + COALESCE(LENGTH(request_id), 0) AS bytes";

/**
 * One page's SELECT (exported for the test of its plan) with the given columns of live rows and of tombstones: live rows alone, or, with
 * showDeleted, both merged. Each side reads at most a page from its (firm_id, update_time, id) index; the merge
 * keeps the first page.
 */
export function pageStatement(query: PageQuery, live: string, dead: string): [string, unknown[]] {
  const [condition, params] = pageCondition(query);
  const dir = query.order === "desc" ? " DESC" : "";
  const order = (t: string) => `ORDER BY ${t}update_time${dir}, ${t}id${dir}`;
  const filter = query.filter ?? null;
  if (filter !== null) {
    const matches = filterMatches(filter);
    if (matches.length === 1) {
      const [only] = matches as [FilterMatch];
      const sql = `SELECT ${live}, NULL AS delete_time FROM contacts c WHERE ${condition("c.")} AND c.${only.sql} ${order("c.")} LIMIT ?`;
      return [sql, [...params, only.param, query.limit]];
    }
    // A name: the page's ids from each name index alone (the index holds update_time and id, so no row is read
    // for a match that does not make the page), UNION (not ALL) dropping a contact whose two names both match;
    // then only the page's rows are read.
    const ids = matches
      .map(
        (m) =>
          `(SELECT s.firm_id, s.id, s.update_time FROM contacts s FORCE INDEX (${m.index}) WHERE ${condition("s.")} AND s.${m.sql} ${order("s.")} LIMIT ?)`,
      )
      .join(" UNION ");
    // The join matches the firm too, so that a database sharded by firm_id (docs/vitess.md) keeps it on the firm's
    // shard instead of looking each id up on every shard; the rows are still read by primary key.
    return [
      `SELECT ${live}, NULL AS delete_time FROM contacts c JOIN (${ids}) k ON c.firm_id = k.firm_id AND c.id = k.id ${order("c.")} LIMIT ?`,
      [...matches.flatMap((m) => [...params, m.param, query.limit]), query.limit],
    ];
  }
  const liveSql = `SELECT ${live}, NULL AS delete_time FROM contacts c WHERE ${condition("c.")} ${order("c.")} LIMIT ?`;
  if (!query.showDeleted) return [liveSql, [...params, query.limit]];
  const deadSql = `SELECT ${dead}, t.delete_time FROM contact_tombstones t WHERE ${condition("t.")} ${order("t.")} LIMIT ?`;
  return [
    `(${liveSql}) UNION ALL (${deadSql}) ${order("")} LIMIT ?`,
    [...params, query.limit, ...params, query.limit, query.limit],
  ];
}

interface FilterMatch {
  readonly sql: string;
  readonly param: unknown;
  /** The index the read must use: with ORDER BY update_time LIMIT, the optimizer may prefer to walk the firm. */
  readonly index?: string;
}

/**
 * A filter's conditions on a live row, each served by an index: the email identity by (firm_id, email_key), the
 * tracking id by (firm_id, tracking_id), a name by (firm_id, first_name_search, update_time) and its last-name
 * twin (migration 0009, case- and accent-insensitive), one condition per index; conditions name no table alias.
 */
function filterMatches(filter: ListFilter): FilterMatch[] {
  if (filter.kind === "email") return [{ sql: "email_key = ?", param: emailKeyColumnValue(filter.email) }];
  if (filter.kind === "trackingId") return [{ sql: "tracking_id = ?", param: filter.trackingId }];
  // LIKE's wildcards in the name are literal; '!' escapes them (a backslash would depend on the SQL mode).
  const literal = filter.text.replace(/[!%_]/g, (c) => `!${c}`);
  const pattern = filter.prefix ? `${literal}%` : literal;
  return NAME_SEARCH_COLUMNS.map((column) => ({
    sql: `${column} LIKE ? ESCAPE '!'`,
    param: pattern,
    index: nameSearchIndex(column),
  }));
}

function toContact(row: Row): Contact {
  const contact: Record<string, unknown> = {};
  PROPERTIES.forEach((property, i) => {
    contact[property] = row[COLUMNS[i] as string];
  });
  const assigned = Object.fromEntries(ASSIGNMENT_KINDS.map((kind) => [kind, [] as string[]])) as Record<
    AssignmentKind,
    string[]
  >;
  const joined = row.assignments;
  if (typeof joined === "string" && joined !== "") {
    for (const entry of joined.split(SEPARATOR)) {
      const at = entry.indexOf(KIND_SEPARATOR);
      const kind = KIND_OF_VALUE.get(entry.slice(0, at));
      if (kind === undefined) throw new Error(`unknown assignment kind in ${JSON.stringify(entry)}`);
      assigned[kind].push(entry.slice(at + 1));
    }
  }
  Object.assign(contact, assigned);
  return contact as Contact;
}

function toListed(row: Row): ListedContact {
  return { ...toContact(row), deleteTime: (row.delete_time as Date | null) ?? null };
}

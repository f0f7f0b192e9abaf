import type { Contact, UpsertInput } from "../contacts/contact.js";
import type { ContactStore } from "../contacts/contact-store.js";
import { DATA_FIELDS, type DataField } from "../contacts/fields.js";
import { roundTrips, selectByKeys, writeStatements } from "./batch-statements.js";
import { columnOf } from "./columns.js";
import type { PipelinedTransaction } from "./pipelined-transaction.js";

// Every column, in one fixed order shared by SELECT and INSERT.
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
const SELECT = `SELECT ${COLUMNS.join(", ")} FROM contacts WHERE firm_id = ? AND`;
const INSERT = `INSERT INTO contacts (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map(() => "?").join(", ")})`;

type Row = Record<string, unknown>;

/**
 * The ContactStore over one transaction. Thin: each method is one statement, written as SQL: the statements the
 * raw-driver baseline in bench/ runs, since on this hot path the ORM's query builder and entity hydration cost
 * more CPU than the statements. Writes are deferred to the commit (see pipelined-transaction.ts).
 */
export function contactRepository(tx: PipelinedTransaction): ContactStore {
  const findOne = async (key: "tracking_id" | "email", firmId: string, value: string, lock: boolean) => {
    const rows = await tx.query<Row>(`${SELECT} ${key} = ?${lock ? " FOR UPDATE" : ""}`, [firmId, value]);
    return rows[0] === undefined ? null : toContact(rows[0]);
  };

  return {
    async findUpsertCandidates(input: UpsertInput) {
      if (input.trackingId !== undefined) {
        const byTrackingId = await findOne("tracking_id", input.firmId, input.trackingId, true);
        if (byTrackingId !== null || input.email === undefined) return { byTrackingId, byEmail: null };
        // Only a create needs to know whether the email is taken; the unique index has the final word.
        const byEmail = await findOne("email", input.firmId, input.email, false);
        if (byEmail?.trackingId === input.trackingId) {
          // READ COMMITTED reads each statement's latest commit: a concurrent creator of this very contact
          // committed between the two reads. It is the match, not a conflict: read it again, locked.
          return {
            byTrackingId: await findOne("tracking_id", input.firmId, input.trackingId, true),
            byEmail,
          };
        }
        return { byTrackingId, byEmail };
      }
      const byEmail =
        input.email === undefined ? null : await findOne("email", input.firmId, input.email, true);
      return { byTrackingId: null, byEmail };
    },

    async insert(contact: Contact) {
      tx.defer(
        INSERT,
        PROPERTIES.map((property) => contact[property]),
      );
    },

    async update(contact: Contact, changed: readonly DataField[]) {
      const sets = changed.map((field) => `${columnOf(field)} = ?`).join(", ");
      // Scoped by firm too, like every statement here, so that a shard keyed by firm can route it.
      tx.defer(`UPDATE contacts SET ${sets}, update_time = ? WHERE firm_id = ? AND id = ?`, [
        ...changed.map((field) => contact[field]),
        contact.updateTime,
        contact.firmId,
        contact.id,
      ]);
    },

    async findByKeys(firmId, keys) {
      const select = selectByKeys(COLUMNS.join(", "), firmId, keys);
      if (select === undefined) return [];
      const rows = await tx.query<Row>(select.sql, select.params);
      const byId = new Map(rows.map((row) => [row.id as string, row]));
      return [...byId.values()].map(toContact);
    },

    async writeBatch(writes) {
      const trips = roundTrips(writeStatements(PROPERTIES, writes));
      const last = trips.pop() ?? [];
      // Round trips that would not fit one packet with the commit go first; the last one goes with COMMIT.
      for (const trip of trips) {
        await tx.query(
          trip.map((s) => s.sql).join("; "),
          trip.flatMap((s) => s.params),
        );
      }
      for (const statement of last) tx.defer(statement.sql, statement.params);
    },
  };
}

function toContact(row: Row): Contact {
  const contact: Record<string, unknown> = {};
  PROPERTIES.forEach((property, i) => {
    contact[property] = row[COLUMNS[i] as string];
  });
  return contact as Contact;
}

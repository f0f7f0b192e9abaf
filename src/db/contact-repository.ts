import type { Contact, UpsertInput } from "../contacts/contact.js";
import type { ContactStore } from "../contacts/contact-store.js";
import { DATA_FIELDS, type DataField } from "../contacts/fields.js";
import { columnOf, emailKeyColumnValue } from "./columns.js";
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
// email_key is written with every insert and never read back: it is emailKey(email), fixed with the email.
const INSERT = `INSERT INTO contacts (${COLUMNS.join(", ")}, email_key) VALUES (${COLUMNS.map(() => "?").join(", ")}, ?)`;

/**
 * How a contact is located by email, for every query that does: by the email's identity key, never by the
 * email column, whose collation merges more than letter case (see src/contacts/email-key.ts).
 */
export const BY_EMAIL = { where: "email_key = ?", value: emailKeyColumnValue } as const;
const BY_TRACKING_ID = { where: "tracking_id = ?", value: (trackingId: string) => trackingId } as const;

type Row = Record<string, unknown>;

/**
 * The ContactStore over one transaction. Thin: each method is one statement, written as SQL: the statements the
 * raw-driver baseline in bench/ runs, since on this hot path the ORM's query builder and entity hydration cost
 * more CPU than the statements. Writes are deferred to the commit (see pipelined-transaction.ts).
 */
export function contactRepository(tx: PipelinedTransaction): ContactStore {
  const findOne = async (
    by: typeof BY_EMAIL | typeof BY_TRACKING_ID,
    firmId: string,
    value: string,
    lock: boolean,
  ) => {
    const rows = await tx.query<Row>(`${SELECT} ${by.where}${lock ? " FOR UPDATE" : ""}`, [
      firmId,
      by.value(value),
    ]);
    return rows[0] === undefined ? null : toContact(rows[0]);
  };

  return {
    async findUpsertCandidates(input: UpsertInput) {
      if (input.trackingId !== undefined) {
        const byTrackingId = await findOne(BY_TRACKING_ID, input.firmId, input.trackingId, true);
        if (byTrackingId !== null || input.email === undefined) return { byTrackingId, byEmail: null };
        // Only a create needs to know whether the email is taken; the unique index has the final word.
        const byEmail = await findOne(BY_EMAIL, input.firmId, input.email, false);
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
      const byEmail =
        input.email === undefined ? null : await findOne(BY_EMAIL, input.firmId, input.email, true);
      return { byTrackingId: null, byEmail };
    },

    async insert(contact: Contact) {
      tx.defer(INSERT, [...PROPERTIES.map((property) => contact[property]), BY_EMAIL.value(contact.email)]);
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
  };
}

function toContact(row: Row): Contact {
  const contact: Record<string, unknown> = {};
  PROPERTIES.forEach((property, i) => {
    contact[property] = row[COLUMNS[i] as string];
  });
  return contact as Contact;
}

import { ASSIGNMENT_KINDS, type AssignmentChange } from "./assignments.js";
import type { BatchItemResult } from "./batch-types.js";
import type { Contact } from "./contact.js";
import type { FieldChange, HistoryEntry } from "./history-entry.js";
import { fieldsWithValue } from "./upsert-outcome.js";

// Each of Contact's few field names is converted once rather than by a regex on every write (the profile of
// round three put the regex at 1.5 to 2.7% of a call); the type keeps the map as small as Contact.
const PROTO_FIELD_NAMES = new Map<keyof Contact, string>();

/** A contact field's name in the contract: proto field names are snake_case, ours lowerCamelCase. */
export function protoFieldName(field: keyof Contact): string {
  let name = PROTO_FIELD_NAMES.get(field);
  if (name === undefined) {
    name = field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    PROTO_FIELD_NAMES.set(field, name);
  }
  return name;
}

type ValueField = Exclude<keyof Contact, "clientIds" | "investmentEntityIds" | "createTime" | "updateTime">;

/** A create: every field the new contact holds a value in, with that value as new_value. */
export function createdEntry(contact: Contact): HistoryEntry {
  return {
    contactId: contact.id,
    kind: "created",
    fields: fieldsWithValue(contact).map((field) => ({
      field: protoFieldName(field),
      oldValue: null,
      newValue: contact[field],
    })),
  };
}

/** An update: each changed field's stored value before and after. */
export function updatedEntry(before: Contact, after: Contact, changed: readonly ValueField[]): HistoryEntry {
  return {
    contactId: after.id,
    kind: "updated",
    fields: changed.map((field) => ({
      field: protoFieldName(field),
      oldValue: before[field],
      newValue: after[field],
    })),
  };
}

/** A deletion: no fields. */
export function deletedEntry(contact: Contact): HistoryEntry {
  return { contactId: contact.id, kind: "deleted", fields: [] };
}

/** An assign or unassign: one field change per id added (new_value) or removed (old_value). */
export function assignmentEntry(contactId: string, change: AssignmentChange): HistoryEntry {
  const fields: FieldChange[] = [];
  let added = false;
  for (const kind of ASSIGNMENT_KINDS) {
    const field = protoFieldName(kind);
    for (const id of change.add[kind]) fields.push({ field, oldValue: null, newValue: id });
    for (const id of change.remove[kind]) fields.push({ field, oldValue: id, newValue: null });
    added ||= change.add[kind].length > 0;
  }
  return { contactId, kind: added ? "assigned" : "unassigned", fields };
}

/**
 * A batch's history: one entry per item that wrote, in item order. An item's old values are the contact as the
 * earlier items left it (or as stored), exactly what the same calls sent one by one would record.
 */
export function batchEntries(
  stored: readonly Contact[],
  results: readonly BatchItemResult[],
): HistoryEntry[] {
  const latest = new Map(stored.map((contact) => [contact.id, contact]));
  const entries: HistoryEntry[] = [];
  for (const result of results) {
    if (result.kind !== "done") continue;
    const { contact, changed } = result.outcome;
    if (result.outcome.result === "created") entries.push(createdEntry(contact));
    else if (changed.length > 0) {
      const before = latest.get(contact.id);
      if (before === undefined) throw new Error("a batch updated a contact it did not read");
      entries.push(updatedEntry(before, contact, changed));
    }
    latest.set(contact.id, contact);
  }
  return entries;
}

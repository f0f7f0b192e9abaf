import type { Contact, UpsertInput } from "./contact.js";
import { DATA_FIELDS, type DataField } from "./fields.js";

/** The contact an upsert creates. The caller supplies the id and the time, which keeps this function pure. */
export function newContact(input: UpsertInput, id: string, now: Date): Contact {
  const contact: Record<string, unknown> = {
    id,
    firmId: input.firmId,
    trackingId: input.trackingId ?? null,
    email: input.email,
    createTime: now,
    updateTime: now,
    // Assignments are made only by AssignContact.
    clientIds: [],
    investmentEntityIds: [],
  };
  for (const field of DATA_FIELDS) contact[field] = emptyToNull(input[field]);
  return contact as Contact;
}

/** The result of applying an upsert to a stored contact. */
export interface AppliedUpsert {
  readonly contact: Contact;
  /** The data fields whose stored value changed, in field-table order; empty when the upsert changed nothing. */
  readonly changed: readonly DataField[];
}

/**
 * Applies an upsert to a matched contact: a present field replaces the stored value, an omitted one is kept, an
 * empty optional one is cleared. Keys (firm, tracking id, email) never change. `updateTime` moves only when
 * something changed, so replaying the same request leaves the same end state.
 */
export function applyUpsert(stored: Contact, input: UpsertInput, now: Date): AppliedUpsert {
  const changed: DataField[] = [];
  const next: Record<string, unknown> = { ...stored };
  for (const field of DATA_FIELDS) {
    const value = input[field];
    if (value === undefined) continue;
    const replacement = emptyToNull(value);
    if (replacement !== stored[field]) {
      next[field] = replacement;
      changed.push(field);
    }
  }
  if (changed.length > 0) next.updateTime = now;
  return { contact: next as Contact, changed };
}

function emptyToNull(value: string | undefined): string | null {
  return value === undefined || value === "" ? null : value;
}

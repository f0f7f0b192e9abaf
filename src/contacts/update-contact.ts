import { ANONYMOUS } from "./actor.js";
import { applyUpdate, type RawUpdateRequest, validateUpdate } from "./apply-update.js";
import { type Contact, stampTimes } from "./contact.js";
import type { ContactStore, Transact } from "./contact-store.js";
import { ConflictError, NotFoundError, ValidationError } from "./errors.js";
import { updatedEntry } from "./history.js";

/**
 * The UpdateContact use case (AIP-134): validate, then in one transaction read the contact (locked), apply the
 * masked fields, check that a new email or tracking id is not held by another contact of the firm, and write
 * what changed. An update that changes nothing writes nothing and keeps the update time. The unique indexes have
 * the final word: a racing writer's duplicate key retries the transaction, whose check then reports it.
 */
export function updateContact(deps: { readonly transact: Transact }) {
  return async (raw: RawUpdateRequest, signal?: AbortSignal, actor = ANONYMOUS): Promise<Contact> => {
    const validation = validateUpdate(raw);
    if (validation.kind === "invalid") throw new ValidationError(validation.violations);
    const { firmId, id, changes } = validation.input;
    const { value, tick } = await deps.transact(async (store) => {
      const stored = await store.findById(firmId, id, true);
      if (stored === null) throw new NotFoundError();
      const { contact, changed } = applyUpdate(stored, changes);
      if (changed.includes("email")) await checkFree(store, contact, "email");
      if (changed.includes("trackingId")) await checkFree(store, contact, "trackingId");
      if (changed.length > 0) {
        await store.update(contact, changed);
        await store.recordChanges(firmId, actor, [updatedEntry(stored, contact, changed)]);
      }
      return contact;
    }, signal);
    return tick === null ? value : stampTimes(value, tick, false);
  };
}

async function checkFree(store: ContactStore, contact: Contact, key: "email" | "trackingId"): Promise<void> {
  const value = contact[key];
  if (value === null) return;
  const holder =
    key === "email"
      ? await store.findByEmail(contact.firmId, value)
      : await store.findByTrackingId(contact.firmId, value);
  if (holder === null || holder.id === contact.id) return;
  throw new ConflictError(
    `contact.${key}: already belongs to another contact of this firm`,
    key === "email" ? "EMAIL_TAKEN" : "TRACKING_ID_TAKEN",
    `contact.${key}`,
    holder.id,
  );
}

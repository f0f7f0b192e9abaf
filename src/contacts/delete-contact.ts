import { ANONYMOUS } from "./actor.js";
import type { Transact } from "./contact-store.js";
import { NotFoundError } from "./errors.js";
import { type ContactRef, validateContactRef } from "./get-contact.js";
import { deletedEntry } from "./history.js";

/**
 * The DeleteContact use case: in one transaction, moves the firm's live contact to the tombstones (its email
 * and tracking id are free again at once) with the commit's tick as its update and delete time, so a sync
 * with show_deleted sees the deletion. NotFoundError when there is no such live contact.
 */
export function deleteContact(deps: { readonly transact: Transact }) {
  return async (raw: ContactRef, signal?: AbortSignal, actor = ANONYMOUS): Promise<void> => {
    const { firmId, id } = validateContactRef(raw, "id");
    await deps.transact(async (store) => {
      const contact = await store.findById(firmId, id, true);
      if (contact === null) throw new NotFoundError();
      await store.remove(contact);
      await store.recordChanges(firmId, actor, [deletedEntry(contact)]);
    }, signal);
  };
}

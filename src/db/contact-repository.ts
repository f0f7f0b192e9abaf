import type { EntityManager } from "typeorm";
import type { Contact, UpsertInput } from "../contacts/contact.js";
import type { ContactStore } from "../contacts/contact-store.js";
import type { DataField } from "../contacts/fields.js";
import { ContactEntity } from "./contact-entity.js";

/** The ContactStore over one transaction's EntityManager. Thin: each method is one statement. */
export function contactRepository(manager: EntityManager): ContactStore {
  const contacts = manager.getRepository(ContactEntity);

  const findOne = (where: "tracking_id" | "email", firmId: string, key: string, lock: boolean) => {
    const query = contacts
      .createQueryBuilder("c")
      .where(`c.firm_id = :firmId AND c.${where} = :key`, { firmId, key });
    if (lock) query.setLock("pessimistic_write");
    return query.getOne();
  };

  return {
    async findUpsertCandidates(input: UpsertInput) {
      if (input.trackingId !== undefined) {
        const byTrackingId = await findOne("tracking_id", input.firmId, input.trackingId, true);
        // Only a create needs to know whether the email is taken; the unique index has the final word.
        const byEmail =
          byTrackingId === null && input.email !== undefined
            ? await findOne("email", input.firmId, input.email, false)
            : null;
        return { byTrackingId, byEmail };
      }
      const byEmail =
        input.email === undefined ? null : await findOne("email", input.firmId, input.email, true);
      return { byTrackingId: null, byEmail };
    },

    async insert(contact: Contact) {
      await contacts.insert(contact);
    },

    async update(contact: Contact, changed: readonly DataField[]) {
      const values: Record<string, string | Date | null> = { updateTime: contact.updateTime };
      for (const field of changed) values[field] = contact[field];
      await contacts.update({ id: contact.id }, values as Partial<Contact>);
    },
  };
}

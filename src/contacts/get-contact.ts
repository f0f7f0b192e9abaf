import type { Contact, FieldViolation } from "./contact.js";
import type { Transact } from "./contact-store.js";
import { NotFoundError, ValidationError } from "./errors.js";
import { contactRef } from "./validate-upsert.js";

/** A request naming one contact of a firm, as it arrives. */
export interface ContactRef {
  readonly firmId: string;
  readonly id: string;
}

/**
 * Trims and checks a firm id and a contact id, naming the id field as the request does (`id`, `contactId`).
 * Throws ValidationError.
 */
export function validateContactRef(raw: ContactRef, idField: string): ContactRef {
  const violations: FieldViolation[] = [];
  const { firmId, contactId: id } = contactRef(
    { firmId: raw.firmId, contactId: raw.id },
    violations,
    idField,
  );
  if (violations.length > 0) throw new ValidationError(violations);
  return { firmId, id };
}

/** The GetContact use case: the firm's live contact with that id, or NotFoundError. */
export function getContact(deps: { readonly transact: Transact }) {
  return async (raw: ContactRef, signal?: AbortSignal): Promise<Contact> => {
    const { firmId, id } = validateContactRef(raw, "id");
    const { value } = await deps.transact((store) => store.findById(firmId, id, false), signal);
    if (value === null) throw new NotFoundError();
    return value;
  };
}

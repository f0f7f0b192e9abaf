import type { Contact } from "./contact.js";
import type { MatchKey, UpsertRejection } from "./decide-upsert.js";
import { ConflictError, ValidationError } from "./errors.js";
import { DATA_FIELDS, type DataField } from "./fields.js";
import { MISSING_MATCH_KEY } from "./validate-upsert.js";

/** What an upsert did, with the contact as stored after it. */
export interface UpsertOutcome {
  readonly result: "created" | "updated";
  readonly contact: Contact;
  /** The key that located the updated contact; absent when one was created. */
  readonly matchedBy?: MatchKey;
  /**
   * The fields the call changed, in contract order: on create every field given a value (the keys included), on
   * update the data fields whose stored value changed; empty when nothing changed.
   */
  readonly changed: readonly ChangedField[];
}

/** A contact field an upsert can set. */
export type ChangedField = "trackingId" | "email" | DataField;

const SETTABLE_FIELDS: readonly ChangedField[] = ["trackingId", "email", ...DATA_FIELDS];

/** The fields a created contact holds a value in: what its create changed. */
export function fieldsWithValue(contact: Contact): ChangedField[] {
  return SETTABLE_FIELDS.filter((field) => contact[field] !== null);
}

/** The error a single upsert fails with for a rejection; a batch item gets the very same one. */
export function rejectionError(rejection: UpsertRejection): ValidationError | ConflictError {
  switch (rejection.reason) {
    case "missing_match_key":
      return new ValidationError(MISSING_MATCH_KEY);
    case "missing_required":
      return new ValidationError(
        rejection.fields.map((field) => ({ field, description: "is required to create a contact" })),
      );
    case "email_taken":
      return new ConflictError(
        "email: already belongs to another contact of this firm; the trackingId matched no contact, so a new one would be created with a taken email",
        "EMAIL_TAKEN",
        "email",
        rejection.contactId,
      );
  }
}

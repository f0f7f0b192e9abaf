import { ANONYMOUS } from "./actor.js";
import { applyUpsert, newContact } from "./apply-upsert.js";
import { type Contact, stampTimes, UNSTAMPED } from "./contact.js";
import { newContactId } from "./contact-id.js";
import type { Transact } from "./contact-store.js";
import { decideUpsert, type MatchKey, type UpsertRejection } from "./decide-upsert.js";
import { ConflictError, ValidationError } from "./errors.js";
import { DATA_FIELDS, type DataField } from "./fields.js";
import { createdEntry, updatedEntry } from "./history.js";
import {
  checkedRequestId,
  DEFAULT_REQUEST_ID_TTL_HOURS,
  transactOnce,
  upsertFingerprint,
} from "./request-ids.js";
import { MISSING_MATCH_KEY, type RawUpsertRequest, validateUpsert } from "./validate-upsert.js";

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

export interface UpsertContactDeps {
  readonly transact: Transact;
  readonly newId?: () => string;
  /** REQUEST_ID_TTL_HOURS: how long a request id's outcome is kept at least. */
  readonly requestIdTtlHours?: number;
}

/**
 * The UpsertContact use case: validate, then in one transaction read the candidates, decide, and write (or,
 * with validateOnly, roll back). Throws ValidationError or ConflictError for the caller's mistakes; transient
 * failures come from `transact`. With the actor's request id, it runs at most once (see request-ids.ts).
 */
export function upsertContact(deps: UpsertContactDeps) {
  const newId = deps.newId ?? (() => newContactId());
  return async (raw: RawUpsertRequest, signal?: AbortSignal, actor = ANONYMOUS): Promise<UpsertOutcome> => {
    const requestId = checkedRequestId(actor.requestId);
    const validation = validateUpsert(raw);
    if (validation.kind === "invalid") throw new ValidationError(validation.violations);
    const input = validation.input;
    // A dry run reads and decides exactly as below, then rolls back (see runPipelined); its tick is only peeked.
    const once = {
      transact: deps.transact,
      ttlHours: deps.requestIdTtlHours ?? DEFAULT_REQUEST_ID_TTL_HOURS,
      firmId: input.firmId,
      requestId,
      fingerprint: () => upsertFingerprint(raw),
      dryRun: raw.validateOnly === true,
    };
    const { value, tick } = await transactOnce(
      once,
      async (store): Promise<UpsertOutcome> => {
        const decision = decideUpsert(input, await store.findUpsertCandidates(input));
        switch (decision.kind) {
          case "reject":
            throw rejectionError(decision);
          case "create": {
            const contact = newContact(input, newId(), UNSTAMPED);
            await store.insert(contact);
            await store.recordChanges(input.firmId, actor, [createdEntry(contact)]);
            return { result: "created", contact, changed: fieldsWithValue(contact) };
          }
          case "update": {
            // The stored update time stays unless something changed; then the commit's tick replaces it.
            const { contact, changed } = applyUpsert(decision.contact, input, decision.contact.updateTime);
            if (changed.length > 0) {
              await store.update(contact, changed);
              await store.recordChanges(input.firmId, actor, [
                updatedEntry(decision.contact, contact, changed),
              ]);
            }
            return { result: "updated", contact, matchedBy: decision.matchedBy, changed };
          }
        }
      },
      signal,
    );
    if (tick === null) return value;
    return { ...value, contact: stampTimes(value.contact, tick, value.result === "created") };
  };
}

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

import { ANONYMOUS } from "./actor.js";
import { applyUpsert, newContact } from "./apply-upsert.js";
import { stampTimes, UNSTAMPED } from "./contact.js";
import { newContactId } from "./contact-id.js";
import type { Transact } from "./contact-store.js";
import { decideUpsert } from "./decide-upsert.js";
import { ValidationError } from "./errors.js";
import { createdEntry, updatedEntry } from "./history.js";
import {
  checkedRequestId,
  DEFAULT_REQUEST_ID_TTL_HOURS,
  transactOnce,
  upsertFingerprint,
} from "./request-ids.js";
import { fieldsWithValue, rejectionError, type UpsertOutcome } from "./upsert-outcome.js";
import { type RawUpsertRequest, validateUpsert } from "./validate-upsert.js";

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

import { ANONYMOUS } from "./actor.js";
import type { BatchItemResult, RawBatchUpsertRequest } from "./batch-types.js";
import { stampTimes } from "./contact.js";
import { newContactId } from "./contact-id.js";
import type { Transact } from "./contact-store.js";
import { batchEntries } from "./history.js";
import { batchKeys, planBatchUpsert, validateBatch, validateBatchItems } from "./plan-batch-upsert.js";
import {
  batchFingerprint,
  checkedRequestId,
  DEFAULT_REQUEST_ID_TTL_HOURS,
  spelledBatchFingerprint,
  transactOnce,
} from "./request-ids.js";
import type { UpsertValidation } from "./validate-upsert.js";

export interface BatchUpsertContactsDeps {
  readonly transact: Transact;
  readonly newId?: () => string;
  /** REQUEST_ID_TTL_HOURS: how long a request id's outcome is kept at least. */
  readonly requestIdTtlHours?: number;
  /** The largest answer a request id keeps (REQUEST_OUTCOME_MAX_BYTES unless a test lowers it). */
  readonly requestOutcomeMaxBytes?: number;
}

/**
 * The BatchUpsertContacts use case: validate every item, then in one transaction read every contact the batch's
 * keys point at (one statement), decide item by item in memory (planBatchUpsert) and write the result with
 * multi-row statements. The whole transaction is retried on conflicts like a single upsert. Throws
 * ValidationError when the batch itself is malformed; an item's failure is its result.
 */
export function batchUpsertContacts(deps: BatchUpsertContactsDeps) {
  const newId = deps.newId ?? (() => newContactId());
  return async (
    request: RawBatchUpsertRequest,
    signal?: AbortSignal,
    actor = ANONYMOUS,
  ): Promise<readonly BatchItemResult[]> => {
    const requestId = checkedRequestId(actor.requestId);
    const firmId = validateBatch(request);
    const validations = validateBatchItems(firmId, request.items);
    const plan = (stored: Parameters<typeof planBatchUpsert>[1]) =>
      planBatchUpsert(withoutWithdrawn(validations, request.itemSignals), stored, {
        allOrNone: request.allOrNone,
        newId,
        dryRun: request.validateOnly === true,
      });
    // Nothing to read or write; the answer follows from the request alone, so no request id is kept for it.
    if (validations.every((v) => v.kind === "invalid")) return plan([]).results;
    const keys = batchKeys(validations);
    // A dry run reads and plans exactly as below, then rolls back: no contact, history or clock written.
    const once = {
      transact: deps.transact,
      ttlHours: deps.requestIdTtlHours ?? DEFAULT_REQUEST_ID_TTL_HOURS,
      firmId,
      requestId,
      fingerprint: () => batchFingerprint(request),
      formerFingerprint: () => spelledBatchFingerprint(request),
      dryRun: request.validateOnly === true,
      maxOutcomeBytes: deps.requestOutcomeMaxBytes,
    };
    const { value, tick } = await transactOnce(
      once,
      async (store) => {
        const stored = await store.findByKeys(firmId, keys);
        const { results, writes } = plan(stored);
        await store.writeBatch(firmId, writes);
        await store.recordChanges(firmId, actor, batchEntries(stored, results));
        return results;
      },
      signal,
    );
    // One tick of the firm's clock for the whole batch: every contact it wrote carries it, as a single call's would.
    if (tick === null) return value;
    return value.map((r) =>
      r.kind === "done" && r.stamp !== null
        ? {
            ...r,
            outcome: { ...r.outcome, contact: stampTimes(r.outcome.contact, tick, r.stamp === "created") },
          }
        : r,
    );
  };
}

/** A coalesced call that gave up (deadline, cancel) is planned as an item that writes nothing and changes nothing. */
function withoutWithdrawn(
  validations: readonly UpsertValidation[],
  signals: readonly (AbortSignal | undefined)[] | undefined,
): readonly UpsertValidation[] {
  if (!signals?.some((signal) => signal?.aborted)) return validations;
  return validations.map((v, i) => (signals[i]?.aborted ? { kind: "invalid", violations: [] } : v));
}

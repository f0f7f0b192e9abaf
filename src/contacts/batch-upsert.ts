import { stampTimes } from "./contact.js";
import { newContactId } from "./contact-id.js";
import type { Transact } from "./contact-store.js";
import {
  type BatchItemResult,
  batchKeys,
  planBatchUpsert,
  type RawBatchUpsertRequest,
  validateBatch,
  validateBatchItems,
} from "./plan-batch-upsert.js";

export interface BatchUpsertContactsDeps {
  readonly transact: Transact;
  readonly newId?: () => string;
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
  ): Promise<readonly BatchItemResult[]> => {
    const firmId = validateBatch(request);
    const validations = validateBatchItems(firmId, request.items);
    const plan = (stored: Parameters<typeof planBatchUpsert>[1]) =>
      planBatchUpsert(validations, stored, { allOrNone: request.allOrNone, newId });
    if (validations.every((v) => v.kind === "invalid")) return plan([]).results; // nothing to read or write
    const keys = batchKeys(validations);
    const { value, tick } = await deps.transact(
      async (store) => {
        const { results, writes } = plan(await store.findByKeys(firmId, keys));
        await store.writeBatch(firmId, writes);
        return results;
      },
      signal,
      { dryRun: request.validateOnly === true },
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

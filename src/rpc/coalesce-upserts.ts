import type { Actor } from "../contacts/actor.js";
import type { BatchItemResult, RawBatchUpsertRequest } from "../contacts/batch-types.js";
import type { UpsertOutcome } from "../contacts/upsert-outcome.js";
import type { UseCase } from "../contacts/use-case.js";
import { type RawUpsertRequest, validateUpsert } from "../contacts/validate-upsert.js";
import type { Coalescing } from "./coalescing.js";

/**
 * Single upserts that wait for a database connection run together through the batch path: one transaction,
 * one set read and multi-row writes for the whole group, like a database's group commit. A batch item's result is
 * by contract exactly what UpsertContact answers alone, items sharing a key apply in arrival order, and a failing
 * item does not stop the others, so each call still gets its own answer. Calls of one firm and one principal
 * coalesce (the history records one principal per transaction); a call with a request id keeps its own
 * transaction (its outcome is recorded per call), and so do a dry run (validateOnly) and an invalid call, which
 * fails alone without waiting. `inGroup` runs each group's transaction (tracing puts it in a span of its own).
 */
export function coalesceUpserts(
  batch: UseCase<RawBatchUpsertRequest, readonly BatchItemResult[]>,
  maxCalls: number,
  onGroup: (calls: number) => void = () => undefined,
  inGroup: <R>(requests: readonly object[], run: () => Promise<R>) => Promise<R> = (_, run) => run(),
): Coalescing<RawUpsertRequest, UpsertOutcome> {
  return {
    useCase: "upsertContact",
    maxCalls,
    key(request: RawUpsertRequest, actor: Actor | undefined) {
      // A request id or a dry run needs its own transaction: a batch item may carry neither.
      if (actor?.requestId != null || request.requestId !== undefined || request.validateOnly === true) {
        return undefined;
      }
      if (validateUpsert(request).kind !== "valid") return undefined;
      return `${request.firmId}\u0000${actor?.principal ?? ""}`;
    },
    async run(requests, signals, signal, actor) {
      const firmId = (requests[0] as RawUpsertRequest).firmId;
      onGroup(requests.length);
      const results = await inGroup(requests, () =>
        batch({ firmId, items: requests, allOrNone: false, itemSignals: signals }, signal, actor),
      );
      return results.map((r) =>
        r.kind === "done" ? { ok: true, value: r.outcome } : { ok: false, error: r.error },
      );
    },
  };
}

import { type Attributes, type Context, ROOT_CONTEXT, type Span, trace } from "@opentelemetry/api";
import type { BatchItemResult } from "../contacts/batch-types.js";
import type { UpsertOutcome } from "../contacts/upsert-outcome.js";
import { FIRM_ATTRIBUTE } from "./rpc-span.js";
import { inSpan, recordError, type Tracing } from "./tracing.js";

type AnyUseCase = (request: never, ...rest: never[]) => Promise<unknown>;

/** A call between its arrival at admission and its run: its context and its queue-wait span. */
interface Waiting {
  readonly context: Context;
  readonly queue: Span;
  ended: boolean;
}

/**
 * Traces admission (firm-limit.ts) from outside it: `queued` wraps the admitted use cases and `admitted` the use
 * cases admission runs, so the time between the two is a "firm queue wait" span, and each call runs in its own
 * trace even when another call's release starts it. `group` runs a coalesced group in a trace of its own, linked
 * both ways to the calls it carries. Calls are told apart by their request objects, which admission passes on
 * unchanged.
 */
export interface AdmissionTracing {
  queued<T extends { readonly [K in keyof T]: AnyUseCase }>(useCases: T): T;
  admitted<T extends { readonly [K in keyof T]: AnyUseCase }>(useCases: T): T;
  group<R>(requests: readonly object[], run: () => Promise<R>): Promise<R>;
}

export function admissionTracing(tracing: Tracing): AdmissionTracing {
  const waiting = new WeakMap<object, Waiting>();
  const endWait = (call: Waiting | undefined, error?: unknown) => {
    if (!call || call.ended) return;
    call.ended = true;
    if (error !== undefined) recordError(call.queue, error);
    call.queue.end();
  };
  const wrapAll = <T>(useCases: T, wrap: (name: string, useCase: AnyUseCase) => AnyUseCase): T => {
    const wrapped: Record<string, unknown> = {};
    for (const [name, useCase] of Object.entries(useCases as Record<string, AnyUseCase>)) {
      wrapped[name] = wrap(name, useCase);
    }
    return wrapped as T;
  };
  return {
    queued: (useCases) =>
      wrapAll(useCases, (name, useCase) => async (request: object, ...rest: never[]) => {
        const context = tracing.active();
        const call: Waiting = {
          context,
          queue: tracing.tracer.startSpan("firm queue wait", {}, context),
          ended: false,
        };
        waiting.set(request, call);
        try {
          const result = await useCase(request as never, ...rest);
          trace.getSpan(context)?.setAttributes(outcomeAttributes(name, result));
          return result;
        } catch (error) {
          endWait(call, error); // refused or shed while it waited
          throw error;
        } finally {
          endWait(call);
          waiting.delete(request);
        }
      }) as never,
    admitted: (useCases) =>
      wrapAll(useCases, (_name, useCase) => (request: object, ...rest: never[]) => {
        const call = waiting.get(request);
        endWait(call);
        return call
          ? tracing.with(call.context, () => useCase(request as never, ...rest))
          : useCase(request as never, ...rest);
      }) as never,
    group(requests, run) {
      const spans = requests.flatMap((request) => {
        const call = waiting.get(request);
        endWait(call);
        const span = call && trace.getSpan(call.context);
        return span ? [span] : [];
      });
      const firm = (requests[0] as { firmId?: unknown } | undefined)?.firmId;
      // A trace of its own (the calls' traces are many): the group's spans link to each call's and back.
      return inSpan(
        tracing,
        "coalesced upserts",
        {
          parent: ROOT_CONTEXT,
          links: spans.map((span) => ({ context: span.spanContext() })),
          attributes: {
            "contacts.coalesced.calls": requests.length,
            ...(typeof firm === "string" && { [FIRM_ATTRIBUTE]: firm }),
          },
        },
        (group) => {
          for (const span of spans) span.addLink({ context: group.spanContext() });
          return run();
        },
      );
    },
  };
}

/** What a call did, from its use case's answer: an upsert's outcome and match key, a batch's items by outcome. */
export function outcomeAttributes(useCase: string, result: unknown): Attributes {
  if (useCase === "upsertContact") return upsertAttributes(result as UpsertOutcome);
  if (useCase !== "batchUpsertContacts") return {};
  const counts: Record<string, number> = { created: 0, updated: 0, unchanged: 0, failed: 0 };
  for (const item of result as readonly BatchItemResult[]) {
    const key = item.kind === "failed" ? "failed" : outcomeOf(item.outcome);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return {
    "contacts.batch.items": (result as readonly unknown[]).length,
    ...Object.fromEntries(Object.entries(counts).map(([key, n]) => [`contacts.batch.${key}`, n])),
  };
}

function upsertAttributes(outcome: UpsertOutcome): Attributes {
  return {
    "contacts.outcome": outcomeOf(outcome),
    ...(outcome.matchedBy && { "contacts.matched_by": outcome.matchedBy }),
  };
}

/** created, updated, or unchanged (an update that changed no field: a no-op). */
function outcomeOf(outcome: UpsertOutcome): "created" | "updated" | "unchanged" {
  return outcome.result === "updated" && outcome.changed.length === 0 ? "unchanged" : outcome.result;
}

import type { Actor } from "../contacts/actor.js";
import type { UseCase } from "../contacts/use-case.js";
import { type AdmissionLimits, createAdmission } from "./admission.js";
import { type Coalescing, coalescer } from "./coalescing.js";
import { fairQueue } from "./fair-queue.js";

/** A firm has as many calls using or waiting for the database as it may; nothing was read or written. */
export class FirmBusyError extends Error {
  constructor(readonly limit: number) {
    super(
      `this firm already has ${limit} calls in progress (FIRM_MAX_IN_FLIGHT); retry the call with backoff`,
    );
    this.name = "FirmBusyError";
  }
}

/** How calls share the database connections. */
export interface FirmLimits extends AdmissionLimits {
  /** Calls of one firm using or waiting for the database (FIRM_MAX_IN_FLIGHT); more get FirmBusyError. */
  readonly perFirm: number;
}

type FirmRequest = { readonly firmId: string };

/**
 * Admits ContactService calls to the database fairly between firms: the composition of admission (slots, queue
 * limit and timeout: admission.ts), fairness (whose turn comes: fair-queue.ts) and coalescing (waiting upserts
 * sharing one slot: coalescing.ts). A firm with `perFirm` calls running or waiting is refused at once
 * (FirmBusyError, RESOURCE_EXHAUSTED); a call that would wait coalesces when `coalescing` gives it a key.
 */
export function limitFirms<T extends { readonly [K in keyof T]: UseCase<never, unknown> }>(
  useCases: T,
  limits: FirmLimits,
  // biome-ignore lint/suspicious/noExplicitAny: the coalesced use case's request and result types are its own
  coalescing?: Coalescing<any, unknown>,
): T {
  const admission = createAdmission(limits, fairQueue());
  const joinGroup = coalescing && coalescer(admission, coalescing);
  // Calls of each firm running or waiting.
  const inFlight = new Map<string, number>();
  const adjust = (firm: string, delta: number) => {
    const value = (inFlight.get(firm) ?? 0) + delta;
    if (value === 0) inFlight.delete(firm);
    else inFlight.set(firm, value);
  };

  /** The same admission for every use case of the object: each request names its firm. */
  const admit = async <R>(
    useCase: UseCase<FirmRequest, R>,
    request: FirmRequest,
    signal: AbortSignal | undefined,
    actor: Actor | undefined,
    coalesce: boolean,
  ): Promise<R> => {
    // The firm as the use case will see it; an invalid firm id is refused there, after admission.
    const firm = request.firmId.trim();
    if ((inFlight.get(firm) ?? 0) >= limits.perFirm) throw new FirmBusyError(limits.perFirm);
    adjust(firm, 1);
    try {
      // Only a call that would wait may coalesce: with a slot free it runs alone at once.
      const key = coalesce && admission.busy() ? coalescing?.key(request, actor) : undefined;
      if (key !== undefined && joinGroup) return await joinGroup(useCase, firm, key, request, signal, actor);
      await admission.acquire(firm, signal);
      try {
        return await useCase(request, signal, actor);
      } finally {
        admission.release(firm);
      }
    } finally {
      adjust(firm, -1);
    }
  };
  const limited: Record<string, unknown> = {};
  for (const [name, useCase] of Object.entries(useCases) as [string, UseCase<FirmRequest, unknown>][]) {
    const coalesce = coalescing !== undefined && coalescing.maxCalls > 1 && coalescing.useCase === name;
    limited[name] = (request: FirmRequest, signal?: AbortSignal, actor?: Actor) =>
      admit(useCase, request, signal, actor, coalesce);
  }
  return limited as T;
}

import type { Actor } from "../contacts/actor.js";
import { OverloadedError } from "../contacts/errors.js";
import type { UseCase } from "./contact-service.js";

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
export interface FirmLimits {
  /** Calls that may use the database at once: the pool's size, so that admitted calls do not queue there. */
  readonly slots: number;
  /** Calls of one firm using or waiting for the database (FIRM_MAX_IN_FLIGHT); more get FirmBusyError. */
  readonly perFirm: number;
  /** Calls of all firms waiting for a slot (DB_QUEUE_LIMIT); more are shed at once. */
  readonly queueLimit: number;
  /** Longest wait for a slot (DB_QUEUE_TIMEOUT_MS), after which the call is shed. */
  readonly queueTimeoutMs: number;
}

interface Waiter {
  readonly firm: string;
  readonly grant: () => void;
}

/**
 * Admits ContactService calls to the database fairly between firms. At most `slots` calls run at once; the
 * others wait in one queue per firm, and a freed slot goes to the waiting firm with the fewest calls running
 * (round robin between equals), so a firm flooding the service delays another firm's call by about one
 * transaction, not by its whole backlog. A firm
 * with `perFirm` calls running or waiting is refused at once (RESOURCE_EXHAUSTED); a wait that passes
 * `queueTimeoutMs`, or would make the queue longer than `queueLimit`, is shed with OverloadedError
 * (UNAVAILABLE, nothing written, safe to retry).
 */
export function limitFirms<T extends { readonly [K in keyof T]: UseCase<never, unknown> }>(
  useCases: T,
  limits: FirmLimits,
): T {
  let running = 0;
  let waiting = 0;
  // Calls of each firm running or waiting, and running only.
  const inFlight = new Map<string, number>();
  const runningByFirm = new Map<string, number>();
  // Firms with waiters, in the order their turn comes; each firm appears at most once.
  const turns: string[] = [];
  const queues = new Map<string, Waiter[]>();

  const adjust = (map: Map<string, number>, firm: string, delta: number) => {
    const value = (map.get(firm) ?? 0) + delta;
    if (value === 0) map.delete(firm);
    else map.set(firm, value);
  };

  /** Hands a freed slot to the waiting firm with the fewest calls running, the earliest in turn on a tie. */
  const release = (from: string) => {
    adjust(runningByFirm, from, -1);
    let pick = -1;
    for (let i = 0; i < turns.length; i++) {
      const fewest = pick === -1 ? Number.POSITIVE_INFINITY : (runningByFirm.get(turns[pick] as string) ?? 0);
      if ((runningByFirm.get(turns[i] as string) ?? 0) < fewest) pick = i;
    }
    if (pick === -1) {
      running--;
      return;
    }
    const [firm] = turns.splice(pick, 1) as [string];
    const queue = queues.get(firm) as Waiter[];
    const next = queue.shift() as Waiter;
    if (queue.length > 0) turns.push(firm);
    else queues.delete(firm);
    waiting--;
    adjust(runningByFirm, firm, 1);
    next.grant(); // the slot passes straight to the waiter: `running` is unchanged
  };

  const withdraw = (waiter: Waiter) => {
    const queue = queues.get(waiter.firm);
    const index = queue?.indexOf(waiter) ?? -1;
    if (!queue || index === -1) return false;
    queue.splice(index, 1);
    waiting--;
    if (queue.length === 0) {
      queues.delete(waiter.firm);
      turns.splice(turns.indexOf(waiter.firm), 1);
    }
    return true;
  };

  const acquire = (firm: string, signal: AbortSignal | undefined): Promise<void> => {
    if (running < limits.slots) {
      running++;
      adjust(runningByFirm, firm, 1);
      return Promise.resolve();
    }
    if (waiting >= limits.queueLimit) {
      return Promise.reject(
        new OverloadedError(
          `${waiting} calls already wait for the database (DB_QUEUE_LIMIT): the service is overloaded; retry the call with backoff`,
        ),
      );
    }
    signal?.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!withdraw(waiter)) return;
        signal?.removeEventListener("abort", onAbort);
        reject(
          new OverloadedError(
            `no database connection was free within ${limits.queueTimeoutMs} ms (DB_QUEUE_TIMEOUT_MS): the service is overloaded; retry the call with backoff`,
          ),
        );
      }, limits.queueTimeoutMs);
      const onAbort = () => {
        if (!withdraw(waiter)) return;
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        firm,
        grant: () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      const queue = queues.get(firm);
      if (queue) queue.push(waiter);
      else {
        queues.set(firm, [waiter]);
        turns.push(firm);
      }
      waiting++;
    });
  };

  /** The same admission for every use case of the object: each request names its firm. */
  const admit = async <R>(
    useCase: UseCase<{ readonly firmId: string }, R>,
    request: { readonly firmId: string },
    signal?: AbortSignal,
    actor?: Actor,
  ): Promise<R> => {
    // The firm as the use case will see it; an invalid firm id is refused there, after admission.
    const firm = request.firmId.trim();
    if ((inFlight.get(firm) ?? 0) >= limits.perFirm) throw new FirmBusyError(limits.perFirm);
    adjust(inFlight, firm, 1);
    try {
      await acquire(firm, signal);
      try {
        return await useCase(request, signal, actor);
      } finally {
        release(firm);
      }
    } finally {
      adjust(inFlight, firm, -1);
    }
  };
  const limited: Record<string, unknown> = {};
  for (const [name, useCase] of Object.entries(useCases) as [
    string,
    UseCase<{ firmId: string }, unknown>,
  ][]) {
    limited[name] = (request: { firmId: string }, signal?: AbortSignal, actor?: Actor) =>
      admit(useCase, request, signal, actor);
  }
  return limited as T;
}

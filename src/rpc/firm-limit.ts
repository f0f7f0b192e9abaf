import type { Actor } from "../contacts/actor.js";
import { OverloadedError, waitedTooLong } from "../contacts/errors.js";
import type { UseCase } from "../contacts/use-case.js";

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
  /** Set when the waiter is a group of coalesced calls, which takes one slot for all of them. */
  readonly group?: Group;
}

/** The result of one call of a group: its value or the error it fails with. */
export type Settled<R> =
  | { readonly ok: true; readonly value: R }
  | { readonly ok: false; readonly error: unknown };

/**
 * How calls of one use case coalesce while they wait: calls with the same key that would otherwise wait one by one
 * join one waiter, and when its turn comes they run together in one transaction (`run`) on one slot. A call that
 * finds a free slot never coalesces, so a lone call pays nothing.
 */
export interface Coalescing<Request, Result> {
  /** The use case whose calls coalesce (UpsertContact). */
  readonly useCase: string;
  /** The most calls one group carries; 1 turns coalescing off. */
  readonly maxCalls: number;
  /** The group a waiting call may join, or undefined when it must wait and run alone. */
  key(request: Request, actor: Actor | undefined): string | undefined;
  /**
   * Runs a group's calls in one transaction: one result per request, in order; a throw fails every call. `signals`
   * are the calls' own: a call whose signal aborted before the writes are sent must not be written (alone, it would
   * have rolled back). `signal` aborts once every call's has.
   */
  run(
    requests: readonly Request[],
    signals: readonly (AbortSignal | undefined)[],
    signal: AbortSignal,
    actor: Actor | undefined,
  ): Promise<readonly Settled<Result>[]>;
}

interface Member {
  readonly request: { readonly firmId: string };
  readonly signal: AbortSignal | undefined;
  /** Sheds the call if its group has not started within queueTimeoutMs of the call's arrival. */
  readonly timer: NodeJS.Timeout;
  readonly settle: (result: Settled<unknown>) => void;
}

interface Group {
  readonly key: string;
  readonly members: Member[];
  started: boolean;
  /** The group's place in its firm's queue, set by its first member. */
  waiter?: Waiter;
}

/** Calls a waiter stands for: a group's members, or the one call. */
const weight = (waiter: Waiter) => waiter.group?.members.length ?? 1;

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
  // biome-ignore lint/suspicious/noExplicitAny: the coalesced use case's request and result types are its own
  coalescing?: Coalescing<any, unknown>,
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
    waiting -= weight(next);
    adjust(runningByFirm, firm, 1);
    next.grant(); // the slot passes straight to the waiter: `running` is unchanged
  };

  const withdraw = (waiter: Waiter) => {
    const queue = queues.get(waiter.firm);
    const index = queue?.indexOf(waiter) ?? -1;
    if (!queue || index === -1) return false;
    queue.splice(index, 1);
    waiting -= weight(waiter);
    if (queue.length === 0) {
      queues.delete(waiter.firm);
      turns.splice(turns.indexOf(waiter.firm), 1);
    }
    return true;
  };

  const queueFull = () =>
    new OverloadedError(
      `${waiting} calls already wait for the database (DB_QUEUE_LIMIT): the service is overloaded; retry the call with backoff`,
    );
  const enqueue = (waiter: Waiter) => {
    const queue = queues.get(waiter.firm);
    if (queue) queue.push(waiter);
    else {
      queues.set(waiter.firm, [waiter]);
      turns.push(waiter.firm);
    }
  };

  const acquire = (firm: string, signal: AbortSignal | undefined): Promise<void> => {
    if (running < limits.slots) {
      running++;
      adjust(runningByFirm, firm, 1);
      return Promise.resolve();
    }
    if (waiting >= limits.queueLimit) return Promise.reject(queueFull());
    signal?.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!withdraw(waiter)) return;
        signal?.removeEventListener("abort", onAbort);
        reject(waitedTooLong(limits.queueTimeoutMs));
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
      enqueue(waiter);
      waiting++;
    });
  };

  /**
   * Waits as a member of the firm's last waiter if that is an open group with the same key, or as the first member
   * of a new group. Settles with the call's own result once its group ran, or with the call's abort reason as soon
   * as it aborts (if its group already started, its write may still commit, as a lone call's may once its commit
   * was sent).
   */
  const joinGroup = <R>(
    single: UseCase<{ readonly firmId: string }, R>,
    firm: string,
    key: string,
    request: { readonly firmId: string },
    signal: AbortSignal | undefined,
    actor: Actor | undefined,
  ): Promise<R> => {
    if (waiting >= limits.queueLimit) return Promise.reject(queueFull());
    signal?.throwIfAborted();
    const queue = queues.get(firm);
    const open = queue?.[queue.length - 1]?.group;
    const maxCalls = coalescing?.maxCalls ?? 1;
    const joined =
      open && !open.started && open.key === key && open.members.length < maxCalls ? open : undefined;
    const group: Group = joined ?? { key, members: [], started: false };
    return new Promise<R>((resolve, reject) => {
      // Leaves a group that has not started: the call never runs, and a group left empty leaves the queue.
      const leave = (error: unknown) => {
        if (!group.started) {
          group.members.splice(group.members.indexOf(member), 1);
          waiting--;
          if (group.members.length === 0 && group.waiter) withdraw(group.waiter);
        }
        member.settle({ ok: false, error });
      };
      const onAbort = () => leave(signal?.reason);
      let settled = false;
      const member: Member = {
        request,
        signal,
        // Each call waits at most queueTimeoutMs from its own arrival, as it would alone.
        timer: setTimeout(() => leave(waitedTooLong(limits.queueTimeoutMs)), limits.queueTimeoutMs),
        settle: (result) => {
          if (settled) return;
          settled = true;
          clearTimeout(member.timer);
          signal?.removeEventListener("abort", onAbort);
          if (result.ok) resolve(result.value as R);
          else reject(result.error);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      group.members.push(member);
      waiting++;
      if (joined) return;
      // A new group: one waiter in the firm's queue for all its members.
      group.waiter = {
        firm,
        group,
        grant: () => {
          group.started = true;
          for (const m of group.members) clearTimeout(m.timer);
          runGroup(single, group, actor).finally(() => release(firm));
        },
      };
      enqueue(group.waiter);
    });
  };

  /** Runs a granted group on its slot: a single member alone, as it would have run; more in one transaction. */
  const runGroup = async <R>(
    single: UseCase<{ readonly firmId: string }, R>,
    group: Group,
    actor: Actor | undefined,
  ): Promise<void> => {
    const [first, ...others] = group.members;
    if (!first) return;
    if (others.length === 0) {
      await single(first.request, first.signal, actor).then(
        (value) => first.settle({ ok: true, value }),
        (error: unknown) => first.settle({ ok: false, error }),
      );
      return;
    }
    const members = group.members;
    try {
      const results = await (coalescing as Coalescing<{ readonly firmId: string }, R>).run(
        members.map((m) => m.request),
        members.map((m) => m.signal),
        allAborted(members.map((m) => m.signal)),
        actor,
      );
      members.forEach((m, i) => {
        m.settle(results[i] ?? { ok: false, error: new Error("the group's run returned too few results") });
      });
    } catch (error) {
      for (const m of members) m.settle({ ok: false, error });
    }
  };

  /** The same admission for every use case of the object: each request names its firm. */
  const admit = async <R>(
    useCase: UseCase<{ readonly firmId: string }, R>,
    request: { readonly firmId: string },
    signal: AbortSignal | undefined,
    actor: Actor | undefined,
    coalesce: boolean,
  ): Promise<R> => {
    // The firm as the use case will see it; an invalid firm id is refused there, after admission.
    const firm = request.firmId.trim();
    if ((inFlight.get(firm) ?? 0) >= limits.perFirm) throw new FirmBusyError(limits.perFirm);
    adjust(inFlight, firm, 1);
    try {
      // Only a call that would wait may coalesce: with a slot free it runs alone at once.
      const key = coalesce && running >= limits.slots ? coalescing?.key(request, actor) : undefined;
      if (key !== undefined) return await joinGroup(useCase, firm, key, request, signal, actor);
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
    const coalesce = coalescing !== undefined && coalescing.maxCalls > 1 && coalescing.useCase === name;
    limited[name] = (request: { firmId: string }, signal?: AbortSignal, actor?: Actor) =>
      admit(useCase, request, signal, actor, coalesce);
  }
  return limited as T;
}

/** A signal that aborts once every one of `signals` has aborted (never, if one of them is undefined). */
function allAborted(signals: readonly (AbortSignal | undefined)[]): AbortSignal {
  const controller = new AbortController();
  if (signals.some((signal) => signal === undefined)) return controller.signal;
  const live = signals as AbortSignal[];
  const check = () => {
    if (live.every((signal) => signal.aborted)) controller.abort(live[0]?.reason);
  };
  for (const signal of live) signal.addEventListener("abort", check, { once: true });
  check();
  return controller.signal;
}

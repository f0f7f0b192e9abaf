import type { Actor } from "../contacts/actor.js";
import { waitedTooLong } from "../contacts/errors.js";
import type { UseCase } from "../contacts/use-case.js";
import type { Admission } from "./admission.js";
import type { Waiter } from "./fair-queue.js";

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

type FirmRequest = { readonly firmId: string };

interface Member {
  readonly request: FirmRequest;
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
  waiter?: GroupWaiter;
}

interface GroupWaiter extends Waiter {
  readonly group: Group;
}

/** Waits for a slot as a member of a group of calls, and settles with the call's own result. */
export type JoinGroup = <R>(
  single: UseCase<FirmRequest, R>,
  firm: string,
  key: string,
  request: FirmRequest,
  signal: AbortSignal | undefined,
  actor: Actor | undefined,
) => Promise<R>;

/**
 * Coalescing of waiting calls over an admission. A call waits as a member of its firm's last waiter if that is
 * an open group with the same key, or as the first member of a new group. It settles with its own result once its
 * group ran, or with its abort reason as soon as it aborts (if its group already started, its write may still
 * commit, as a lone call's may once its commit was sent). Each member is shed queueTimeoutMs after its own
 * arrival, as it would be alone.
 */
export function coalescer(
  admission: Admission,
  // biome-ignore lint/suspicious/noExplicitAny: the coalesced use case's request and result types are its own
  coalescing: Coalescing<any, unknown>,
): JoinGroup {
  const { queueTimeoutMs } = admission.limits;

  /** Runs a granted group on its slot: a single member alone, as it would have run; more in one transaction. */
  const runGroup = async <R>(
    single: UseCase<FirmRequest, R>,
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
      const results = await coalescing.run(
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

  return <R>(
    single: UseCase<FirmRequest, R>,
    firm: string,
    key: string,
    request: FirmRequest,
    signal: AbortSignal | undefined,
    actor: Actor | undefined,
  ): Promise<R> => {
    const full = admission.queueFull();
    if (full) return Promise.reject(full);
    signal?.throwIfAborted();
    const open = (admission.last(firm) as GroupWaiter | undefined)?.group;
    const joined =
      open && !open.started && open.key === key && open.members.length < coalescing.maxCalls
        ? open
        : undefined;
    const group: Group = joined ?? { key, members: [], started: false };
    return new Promise<R>((resolve, reject) => {
      // Leaves a group that has not started: the call never runs, and a group left empty leaves the queue.
      const leave = (error: unknown) => {
        if (!group.started) {
          group.members.splice(group.members.indexOf(member), 1);
          admission.waiting(-1);
          if (group.members.length === 0 && group.waiter) admission.withdraw(group.waiter);
        }
        member.settle({ ok: false, error });
      };
      const onAbort = () => leave(signal?.reason);
      let settled = false;
      const member: Member = {
        request,
        signal,
        timer: setTimeout(() => leave(waitedTooLong(queueTimeoutMs)), queueTimeoutMs),
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
      admission.waiting(1);
      if (joined) return;
      // A new group: one waiter in the firm's queue for all its members.
      group.waiter = {
        firm,
        group,
        weight: () => group.members.length,
        grant: () => {
          group.started = true;
          for (const m of group.members) clearTimeout(m.timer);
          runGroup(single, group, actor).finally(() => admission.release(firm));
        },
      };
      admission.enqueue(group.waiter);
    });
  };
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

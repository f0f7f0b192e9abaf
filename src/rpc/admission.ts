import { OverloadedError, waitedTooLong } from "../contacts/errors.js";
import type { FairQueue, Waiter } from "./fair-queue.js";

/** How many calls use the database at once, and how many may wait, for how long. */
export interface AdmissionLimits {
  /** Calls that may use the database at once: the pool's size, so that admitted calls do not queue there. */
  readonly slots: number;
  /** Calls of all firms waiting for a slot (DB_QUEUE_LIMIT); more are shed at once. */
  readonly queueLimit: number;
  /** Longest wait for a slot (DB_QUEUE_TIMEOUT_MS), after which the call is shed. */
  readonly queueTimeoutMs: number;
}

/** The database slots and the calls waiting for them, in the order a FairQueue gives them their turn. */
export interface Admission {
  readonly limits: AdmissionLimits;
  /** True when every slot is taken: a call arriving now would wait. */
  busy(): boolean;
  /** The error for a call arriving while queueLimit calls wait, or undefined when it may wait. */
  queueFull(): OverloadedError | undefined;
  /**
   * Takes a slot for one call of the firm: at once when one is free, else when its turn comes. Rejects with
   * OverloadedError when the queue is full or the wait passes queueTimeoutMs, with the abort reason on abort.
   */
  acquire(firm: string, signal: AbortSignal | undefined): Promise<void>;
  /** Gives a slot back: straight to the waiter whose turn comes, or free. */
  release(firm: string): void;
  /** Queues a waiter that handles its own timeout (a group of calls); its calls are counted by `waiting`. */
  enqueue(waiter: Waiter): void;
  withdraw(waiter: Waiter): boolean;
  /** The last waiter in the firm's queue. */
  last(firm: string): Waiter | undefined;
  /** Counts calls starting (+1) or stopping (-1) to wait as part of a queued waiter. */
  waiting(delta: number): void;
}

/**
 * Admission: at most `slots` calls run at once; the others wait for a freed slot, which goes to the waiter whose
 * turn `queue` says has come. A wait that passes `queueTimeoutMs`, or would make the queue longer than
 * `queueLimit`, is shed with OverloadedError (UNAVAILABLE, nothing written, safe to retry).
 */
export function createAdmission(limits: AdmissionLimits, queue: FairQueue): Admission {
  let running = 0;
  let waiting = 0;

  const queueFull = () =>
    waiting >= limits.queueLimit
      ? new OverloadedError(
          `${waiting} calls already wait for the database (DB_QUEUE_LIMIT): the service is overloaded; retry the call with backoff`,
        )
      : undefined;

  const withdraw = (waiter: Waiter) => {
    if (!queue.withdraw(waiter)) return false;
    waiting -= waiter.weight();
    return true;
  };

  return {
    limits,
    busy: () => running >= limits.slots,
    queueFull,
    acquire(firm, signal) {
      if (running < limits.slots) {
        running++;
        queue.started(firm);
        return Promise.resolve();
      }
      const full = queueFull();
      if (full) return Promise.reject(full);
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
          weight: () => 1,
          grant: () => {
            clearTimeout(timer);
            signal?.removeEventListener("abort", onAbort);
            resolve();
          },
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        queue.enqueue(waiter);
        waiting++;
      });
    },
    release(firm) {
      queue.finished(firm);
      const next = queue.next();
      if (!next) {
        running--;
        return;
      }
      waiting -= next.weight();
      next.grant(); // the slot passes straight to the waiter: `running` is unchanged
    },
    enqueue: (waiter) => queue.enqueue(waiter),
    withdraw,
    last: (firm) => queue.last(firm),
    waiting(delta) {
      waiting += delta;
    },
  };
}

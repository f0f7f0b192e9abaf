/** A call, or a group of calls, waiting in its firm's queue for a database slot. */
export interface Waiter {
  readonly firm: string;
  /** Calls the waiter stands for: a group's members, or 1. */
  weight(): number;
  /** Hands the waiter its slot, which it gives back through the admission's release. */
  grant(): void;
}

/** Per-firm queues of waiters and the choice of whose turn comes: the fairness between firms. */
export interface FairQueue {
  /** A firm's call started running (it found a free slot). */
  started(firm: string): void;
  /** A firm's call finished and gave its slot back. */
  finished(firm: string): void;
  enqueue(waiter: Waiter): void;
  /** Takes a waiter out of its queue (it timed out or aborted); false when it was not queued (granted). */
  withdraw(waiter: Waiter): boolean;
  /** The last waiter in the firm's queue (an open group that a new call may join). */
  last(firm: string): Waiter | undefined;
  /**
   * Dequeues the waiter whose turn comes, counted as running: the first of the waiting firm with the fewest calls
   * running, the earliest in turn on a tie; undefined when nobody waits.
   */
  next(): Waiter | undefined;
}

/**
 * One queue per firm and a round of turns between firms, so that a firm flooding the service delays another
 * firm's call by about one transaction, not by its whole backlog.
 */
export function fairQueue(): FairQueue {
  const runningByFirm = new Map<string, number>();
  // Firms with waiters, in the order their turn comes; each firm appears at most once.
  const turns: string[] = [];
  const queues = new Map<string, Waiter[]>();
  const running = (firm: string) => runningByFirm.get(firm) ?? 0;
  const adjust = (firm: string, delta: number) => {
    const value = running(firm) + delta;
    if (value === 0) runningByFirm.delete(firm);
    else runningByFirm.set(firm, value);
  };

  return {
    started: (firm) => adjust(firm, 1),
    finished: (firm) => adjust(firm, -1),
    enqueue(waiter) {
      const queue = queues.get(waiter.firm);
      if (queue) queue.push(waiter);
      else {
        queues.set(waiter.firm, [waiter]);
        turns.push(waiter.firm);
      }
    },
    withdraw(waiter) {
      const queue = queues.get(waiter.firm);
      const index = queue?.indexOf(waiter) ?? -1;
      if (!queue || index === -1) return false;
      queue.splice(index, 1);
      if (queue.length === 0) {
        queues.delete(waiter.firm);
        turns.splice(turns.indexOf(waiter.firm), 1);
      }
      return true;
    },
    last(firm) {
      const queue = queues.get(firm);
      return queue?.[queue.length - 1];
    },
    next() {
      let pick = -1;
      for (let i = 0; i < turns.length; i++) {
        const fewest = pick === -1 ? Number.POSITIVE_INFINITY : running(turns[pick] as string);
        if (running(turns[i] as string) < fewest) pick = i;
      }
      if (pick === -1) return undefined;
      const [firm] = turns.splice(pick, 1) as [string];
      const queue = queues.get(firm) as Waiter[];
      const next = queue.shift() as Waiter;
      if (queue.length > 0) turns.push(firm);
      else queues.delete(firm);
      adjust(firm, 1);
      return next;
    },
  };
}

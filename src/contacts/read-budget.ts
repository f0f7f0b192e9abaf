/** Releases what an acquire took; calling it again does nothing. */
export type Release = () => void;

/** Admission of reads by the bytes they will hold: what all reads in flight hold together stays bounded. */
export interface ReadBudget {
  /**
   * Waits until `bytes` (at most the whole capacity) are free, in arrival order, and takes them. Rejects with the
   * signal's reason if it aborts first; nothing is then taken.
   */
  acquire(bytes: number, signal?: AbortSignal): Promise<Release>;
}

interface Waiter {
  readonly bytes: number;
  readonly grant: () => void;
}

/**
 * A ReadBudget of `capacity` bytes (READS_MAX_BYTES). First come, first served: a large read waiting at the head
 * is not overtaken by small ones, so it cannot starve.
 */
export function createReadBudget(capacity: number): ReadBudget {
  let free = capacity;
  const queue: Waiter[] = [];
  const drain = () => {
    while (queue.length > 0 && (queue[0] as Waiter).bytes <= free) {
      const waiter = queue.shift() as Waiter;
      free -= waiter.bytes;
      waiter.grant();
    }
  };
  const releaser = (bytes: number): Release => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      free += bytes;
      drain();
    };
  };
  return {
    acquire(requested, signal) {
      const bytes = Math.min(Math.max(0, Math.ceil(requested)), capacity);
      if (signal?.aborted) return Promise.reject(signal.reason);
      if (queue.length === 0 && bytes <= free) {
        free -= bytes;
        return Promise.resolve(releaser(bytes));
      }
      return new Promise<Release>((resolve, reject) => {
        const onAbort = () => {
          const at = queue.indexOf(waiter);
          if (at !== -1) queue.splice(at, 1);
          drain(); // a smaller waiter behind this one may fit now
          reject(signal?.reason);
        };
        const waiter: Waiter = {
          bytes,
          grant: () => {
            signal?.removeEventListener("abort", onAbort);
            resolve(releaser(bytes));
          },
        };
        queue.push(waiter);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    },
  };
}

/** A budget that admits everything at once: for tests and tools that do not bound reads. */
export const UNBOUNDED_READS: ReadBudget = { acquire: () => Promise.resolve(() => undefined) };

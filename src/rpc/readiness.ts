import { setMaxListeners } from "node:events";

/** Asks the service's dependencies (the database) whether they answer; rejects when they do not. */
export type ReadinessProbe = () => Promise<unknown>;

/** Whether the service can do its work, as the health service and /readyz report it. */
export interface Readiness {
  /**
   * True when the last probe, at most `cacheMs` old, answered within `timeoutMs`; false from the first moment
   * of shutdown. Concurrent callers share one probe.
   */
  check(): Promise<boolean>;
  /** Aborted when shutdown begins. */
  readonly shutdownSignal: AbortSignal;
  /** Marks the service not ready for good; idempotent. */
  beginShutdown(): void;
}

export interface ReadinessOptions {
  readonly timeoutMs?: number;
  readonly cacheMs?: number;
  /** Called when the probe's answer changes (and for the first answer), with the failure if there is one. */
  readonly onChange?: (ready: boolean, error?: unknown) => void;
}

/**
 * Readiness backed by `probe`. Results are cached briefly so that load balancers probing often, and many
 * health watchers, cost the database one cheap query a second at most.
 */
export function createReadiness(probe: ReadinessProbe, options: ReadinessOptions = {}): Readiness {
  const { timeoutMs = 1_000, cacheMs = 1_000, onChange } = options;
  const shutdown = new AbortController();
  // Every health watcher listens on this signal.
  setMaxListeners(0, shutdown.signal);
  let last: { ready: boolean; at: number } | undefined;
  let inFlight: Promise<boolean> | undefined;

  const run = async (): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    let ready: boolean;
    let failure: unknown;
    try {
      await Promise.race([
        probe(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      ready = true;
    } catch (error) {
      ready = false;
      failure = error;
    } finally {
      clearTimeout(timer);
    }
    if (last?.ready !== ready) onChange?.(ready, failure);
    last = { ready, at: performance.now() };
    return ready;
  };

  return {
    shutdownSignal: shutdown.signal,
    beginShutdown: () => shutdown.abort(),
    async check() {
      if (shutdown.signal.aborted) return false;
      if (last !== undefined && performance.now() - last.at < cacheMs) return last.ready;
      inFlight ??= run().finally(() => {
        inFlight = undefined;
      });
      const ready = await inFlight;
      return ready && !shutdown.signal.aborted;
    },
  };
}

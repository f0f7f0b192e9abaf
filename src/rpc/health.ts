import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  type Health,
  HealthCheckResponse_ServingStatus as Status,
} from "../../gen-deps/health/v1/health_pb.js";
import type { Readiness } from "./readiness.js";

export interface HealthOptions {
  /** Names a client may ask about besides "" (the whole server), like "contacts.v1.ContactService". */
  readonly services: readonly string[];
  /** How often a Watch re-probes readiness. */
  readonly watchIntervalMs?: number;
}

/**
 * grpc.health.v1.Health: every known service is SERVING while `readiness` says so and NOT_SERVING otherwise.
 * Check answers NOT_FOUND for an unknown name; Watch answers SERVICE_UNKNOWN and keeps the stream open, as the
 * protocol asks. Watch streams send NOT_SERVING and end when shutdown begins, so they do not hold up draining.
 */
export function healthHandlers(readiness: Readiness, options: HealthOptions): ServiceImpl<typeof Health> {
  const known = new Set(["", ...options.services]);
  const interval = options.watchIntervalMs ?? 1_000;
  const status = async () => ((await readiness.check()) ? Status.SERVING : Status.NOT_SERVING);

  return {
    async check({ service }) {
      if (!known.has(service))
        throw new ConnectError(`unknown service ${JSON.stringify(service)}`, Code.NotFound);
      return { status: await status() };
    },

    async *watch({ service }, context) {
      const stop = AbortSignal.any([context.signal, readiness.shutdownSignal]);
      if (!known.has(service)) {
        yield { status: Status.SERVICE_UNKNOWN };
        await sleep(2 ** 31 - 1, undefined, { signal: stop }).catch(() => undefined);
        return;
      }
      let sent: Status | undefined;
      for (;;) {
        const now = await status();
        if (now !== sent) yield { status: now };
        sent = now;
        if (stop.aborted) return;
        await sleep(interval, undefined, { signal: stop }).catch(() => undefined);
      }
    },

    async list() {
      const now = await status();
      return { statuses: Object.fromEntries([...known].map((name) => [name, { status: now }])) };
    },
  };
}

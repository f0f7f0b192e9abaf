import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createContextKey, type ServiceImpl } from "@connectrpc/connect";
import {
  type Health,
  HealthCheckResponse_ServingStatus as Status,
} from "../../gen-deps/health/v1/health_pb.js";
import type { Readiness } from "./readiness.js";

/** The connection a call arrived on, as the health service needs it to bound Watch streams. */
export interface CallConnection {
  /** Aborted when the connection closes or is told to go away (shutdown, idle GOAWAY). */
  readonly signal: AbortSignal;
  /** Longest a stream may stay open on this connection (HTTP/1.1 has no GOAWAY to end it); none if undefined. */
  readonly streamLifetimeMs: number | undefined;
  /** Watch streams open on this connection. */
  watches: number;
  /** The client's IP address, to cap Watch streams per client across its connections. */
  readonly address?: string | undefined;
}

/** The call's connection, set by the server for every call. */
export const connectionKey = createContextKey<CallConnection | undefined>(undefined, {
  description: "connection",
});

export interface HealthOptions {
  /** Names a client may ask about besides "" (the whole server), like "contacts.v1.ContactService". */
  readonly services: readonly string[];
  /** How often a Watch re-probes readiness. */
  readonly watchIntervalMs?: number;
  /** Watch streams one connection may hold open; more are refused with RESOURCE_EXHAUSTED. */
  readonly maxWatchesPerConnection?: number;
  /** Watch streams the whole server holds open; more are refused with RESOURCE_EXHAUSTED. */
  readonly maxWatches?: number;
  /** Watch streams one client address may hold open over all its connections, so that no one client takes all. */
  readonly maxWatchesPerAddress?: number;
}

/**
 * grpc.health.v1.Health: every known service is SERVING while `readiness` says so and NOT_SERVING otherwise.
 * Check answers NOT_FOUND for an unknown name (without echoing it); Watch answers SERVICE_UNKNOWN and keeps the
 * stream open, as the protocol asks. Watch streams are bounded: so many per connection, per client address and
 * in all, and each
 * ends (sending NOT_SERVING first at shutdown) when shutdown begins, when its connection is told to go away, or,
 * over HTTP/1.1, after the connection's stream lifetime; a client simply watches again.
 */
export function healthHandlers(readiness: Readiness, options: HealthOptions): ServiceImpl<typeof Health> {
  const known = new Set(["", ...options.services]);
  const interval = options.watchIntervalMs ?? 1_000;
  const perConnection = options.maxWatchesPerConnection ?? 16;
  const total = options.maxWatches ?? 1_000;
  const perAddress = options.maxWatchesPerAddress ?? 100;
  let open = 0;
  const byAddress = new Map<string, number>();
  const status = async () => ((await readiness.check()) ? Status.SERVING : Status.NOT_SERVING);

  return {
    async check({ service }) {
      if (!known.has(service))
        throw new ConnectError("unknown service: Health/List names the services served", Code.NotFound);
      return { status: await status() };
    },

    async *watch({ service }, context) {
      const connection = context.values.get(connectionKey);
      const address = connection?.address;
      if (
        open >= total ||
        (connection && connection.watches >= perConnection) ||
        (address !== undefined && (byAddress.get(address) ?? 0) >= perAddress)
      ) {
        throw new ConnectError(
          `too many Watch streams (at most ${perConnection} per connection, ${perAddress} per client address and ${total} in all)`,
          Code.ResourceExhausted,
        );
      }
      open++;
      if (connection) connection.watches++;
      if (address !== undefined) byAddress.set(address, (byAddress.get(address) ?? 0) + 1);
      const signals = [context.signal, readiness.shutdownSignal];
      if (connection) signals.push(connection.signal);
      if (connection?.streamLifetimeMs !== undefined)
        signals.push(AbortSignal.timeout(connection.streamLifetimeMs));
      const stop = AbortSignal.any(signals);
      try {
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
      } finally {
        open--;
        if (connection) connection.watches--;
        if (address !== undefined) {
          const left = (byAddress.get(address) ?? 1) - 1;
          if (left > 0) byAddress.set(address, left);
          else byAddress.delete(address);
        }
      }
    },

    async list() {
      const now = await status();
      return { statuses: Object.fromEntries([...known].map((name) => [name, { status: now }])) };
    },
  };
}

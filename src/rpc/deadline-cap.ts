import { Code, ConnectError } from "@connectrpc/connect";
import type { Actor } from "../contacts/actor.js";
import type { UseCase } from "../contacts/use-case.js";

// gRPC: digits and a unit (hours down to nanoseconds); Connect: milliseconds. The protocols allow 8 and 10
// digits; longer values are shortened too rather than refused.
const GRPC_TIMEOUT = /^(\d+)([HMSmun])$/;
const CONNECT_TIMEOUT = /^\d+$/;
const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 1e-3, n: 1e-6 };

/**
 * Drops a client deadline (`grpc-timeout`, `connect-timeout-ms`) longer than `maxMs` from the request headers,
 * so the call runs under the server's own cap (capCallTime) instead. connect-es would otherwise set a Node timer
 * for the client's value, and Node fires a timer above 2^31-1 ms (about 24.8 days) at once: a one-year deadline
 * ended in DEADLINE_EXCEEDED within milliseconds. Malformed values are left for connect-es to refuse.
 */
export function capTimeoutHeaders(header: Headers, maxMs: number): void {
  const grpc = GRPC_TIMEOUT.exec(header.get("grpc-timeout") ?? "");
  if (grpc && Number(grpc[1]) * (UNIT_MS[grpc[2] as string] ?? 0) > maxMs) header.delete("grpc-timeout");
  const connect = header.get("connect-timeout-ms");
  if (connect !== null && CONNECT_TIMEOUT.test(connect) && Number(connect) > maxMs) {
    header.delete("connect-timeout-ms");
  }
}

/**
 * Caps how long a call may work, whatever deadline the client sent. connect-es's own `maxTimeoutMs` refuses a
 * longer client deadline with INVALID_ARGUMENT, which would fail a CRM job that sets a generous deadline; here a
 * longer deadline is shortened instead (see capTimeoutHeaders), and the call ends with DEADLINE_EXCEEDED when
 * the cap passes. Applies to every use case of the object.
 */
export function capCallTime<T extends { readonly [K in keyof T]: UseCase<never, unknown> }>(
  useCases: T,
  maxMs: number,
): T {
  const capped: Record<string, unknown> = {};
  for (const [name, useCase] of Object.entries(useCases) as [string, UseCase<unknown, unknown>][]) {
    capped[name] = (request: unknown, signal?: AbortSignal, actor?: Actor) =>
      capOne(useCase, request, signal, actor, maxMs);
  }
  return capped as T;
}

async function capOne<R>(
  useCase: UseCase<unknown, R>,
  request: unknown,
  signal: AbortSignal | undefined,
  actor: Actor | undefined,
  maxMs: number,
): Promise<R> {
  const cap = new AbortController();
  // A timer per call, cleared when the call ends: AbortSignal.timeout would hold each call's state until
  // the cap passed, long after the call.
  const timer = setTimeout(
    () =>
      cap.abort(
        new ConnectError(`the call ran past the server's limit of ${maxMs} ms`, Code.DeadlineExceeded),
      ),
    maxMs,
  );
  // The caller's own abort (its deadline, a cancel) ends the call too, with its reason. A listener rather than
  // AbortSignal.any, which costs Node 20 about 2.5 times as much per call (scripts/abort-signal-cost.mjs).
  const onAbort = () => cap.abort(signal?.reason);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
  try {
    return await useCase(request, cap.signal, actor);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

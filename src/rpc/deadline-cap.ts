import { Code, ConnectError } from "@connectrpc/connect";
import type { UseCase } from "./contact-service.js";

/**
 * Caps how long a call may work, whatever deadline the client sent. connect-es's own `maxTimeoutMs` refuses a
 * longer client deadline with INVALID_ARGUMENT, which would fail a CRM job that sets a generous deadline; here a
 * longer deadline is shortened instead, and the call ends with DEADLINE_EXCEEDED when the cap passes. Applies to
 * every use case of the object.
 */
export function capCallTime<T extends { readonly [K in keyof T]: UseCase<never, unknown> }>(
  useCases: T,
  maxMs: number,
): T {
  const capped: Record<string, unknown> = {};
  for (const [name, useCase] of Object.entries(useCases) as [string, UseCase<unknown, unknown>][]) {
    capped[name] = (request: unknown, signal?: AbortSignal) => capOne(useCase, request, signal, maxMs);
  }
  return capped as T;
}

async function capOne<R>(
  useCase: UseCase<unknown, R>,
  request: unknown,
  signal: AbortSignal | undefined,
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
  try {
    return await useCase(request, signal ? AbortSignal.any([signal, cap.signal]) : cap.signal);
  } finally {
    clearTimeout(timer);
  }
}

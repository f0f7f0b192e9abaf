import { Code, ConnectError } from "@connectrpc/connect";
import type { ContactUseCases } from "./contact-service.js";

/**
 * Caps how long a call may work, whatever deadline the client sent. connect-es's own `maxTimeoutMs` refuses a
 * longer client deadline with INVALID_ARGUMENT, which would fail a CRM job that sets a generous deadline; here a
 * longer deadline is shortened instead, and the call ends with DEADLINE_EXCEEDED when the cap passes.
 */
export function capCallTime(useCases: ContactUseCases, maxMs: number): ContactUseCases {
  return {
    upsertContact: capped(useCases.upsertContact, maxMs),
    batchUpsertContacts: capped(useCases.batchUpsertContacts, maxMs),
  };
}

function capped<Request, Response>(
  useCase: (request: Request, signal?: AbortSignal) => Promise<Response>,
  maxMs: number,
): (request: Request, signal?: AbortSignal) => Promise<Response> {
  return async (request, signal) => {
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
  };
}

import { Code, ConnectError } from "@connectrpc/connect";
import type { ContactUseCases } from "./contact-service.js";

/**
 * Caps how long a call may work, whatever deadline the client sent. connect-es's own `maxTimeoutMs` refuses a
 * longer client deadline with INVALID_ARGUMENT, which would fail a CRM job that sets a generous deadline; here a
 * longer deadline is shortened instead, and the call ends with DEADLINE_EXCEEDED when the cap passes.
 */
export function capCallTime(useCases: ContactUseCases, maxMs: number): ContactUseCases {
  const capped = (signal: AbortSignal | undefined) => {
    const cap = AbortSignal.timeout(maxMs);
    const timedOut = new AbortController();
    cap.addEventListener(
      "abort",
      () =>
        timedOut.abort(
          new ConnectError(`the call ran past the server's limit of ${maxMs} ms`, Code.DeadlineExceeded),
        ),
      { once: true },
    );
    return signal ? AbortSignal.any([signal, timedOut.signal]) : timedOut.signal;
  };
  return {
    upsertContact: (request, signal) => useCases.upsertContact(request, capped(signal)),
  };
}

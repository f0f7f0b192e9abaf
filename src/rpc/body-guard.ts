import type { DescMethod } from "@bufbuild/protobuf";
import { Code, type ConnectError, createContextKey, type Interceptor } from "@connectrpc/connect";
import type { UniversalServerRequest } from "@connectrpc/connect/protocol";
import { RETRY_DELAY_MS, retryable } from "./error-mapping.js";
import { depthScanner, jsonDepthLimit, tooDeepError } from "./json-depth.js";

/** The bytes of request bodies this instance is reading and decoding at once (DECODE_MAX_BYTES). */
export interface BodyBudget {
  /** Takes `bytes` if they fit, or if nothing else is held (so one body of any allowed size can pass). */
  tryTake(bytes: number): boolean;
  give(bytes: number): void;
  readonly held: () => number;
  readonly maxBytes: number;
}

/** A budget of `maxBytes`, shared by every call of one server. */
export function createBodyBudget(maxBytes: number): BodyBudget {
  let held = 0;
  return {
    maxBytes,
    held: () => held,
    tryTake(bytes) {
      if (held > 0 && held + bytes > maxBytes) return false;
      held += bytes;
      return true;
    },
    give(bytes) {
      held -= bytes;
    },
  };
}

/** Hands back a call's share of the budget; set per call by guardBody, run once its message is decoded. */
export const releaseBodyKey = createContextKey<() => void>(() => undefined, { description: "release body" });

/**
 * Meters the body of one call against `budget` and, for an uncompressed Connect JSON body, scans its nesting as
 * it arrives. With a content-length (up to `maxDeclared`) the whole body is taken from the budget before a byte
 * is read, and the call is refused at once when it does not fit; without one, each chunk is taken as it arrives.
 * Either way the call fails with RESOURCE_EXHAUSTED and a RetryInfo detail, and a body nested deeper than its
 * schema allows with INVALID_ARGUMENT as soon as the offending bracket arrives, so the rest is never buffered.
 * The share is handed back by `release` (when the message is decoded: see bodyDecoded) or when the call ends,
 * whichever comes first.
 */
export function guardBody(
  method: DescMethod,
  request: UniversalServerRequest,
  budget: BodyBudget,
  maxDeclared: number,
): { refusal: ConnectError | undefined; release: () => void } {
  let taken = 0;
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    budget.give(taken);
  };
  const busy = () =>
    retryable(
      `the server is reading and decoding ${budget.held()} bytes of requests, at its limit of ${budget.maxBytes} (DECODE_MAX_BYTES); retry shortly`,
      Code.ResourceExhausted,
      RETRY_DELAY_MS.overload,
    );
  const declared = Number(request.header.get("content-length") ?? Number.NaN);
  // A declared length past what the method may read is a lie or a mistake: reserving it would let one request
  // hold the whole budget while its connection lives, so such a body is metered as it arrives, like a chunked one
  // (and refused by the method's own limit as it is read).
  const sized = Number.isSafeInteger(declared) && declared >= 0 && declared <= maxDeclared;
  if (sized) {
    if (!budget.tryTake(declared)) return { refusal: busy(), release };
    taken = declared;
  }
  // A client that leaves mid-body (a reset stream, a closed socket) hands its share back then, not later.
  if (request.signal.aborted) release();
  else request.signal.addEventListener("abort", release, { once: true });
  const scan = isPlainJson(request) ? depthScanner(jsonDepthLimit(method.input)) : undefined;
  const check = (chunk: Uint8Array): ConnectError | undefined => {
    if (!sized && !released) {
      if (!budget.tryTake(chunk.byteLength)) return busy();
      taken += chunk.byteLength;
    }
    const tooDeep = scan?.(chunk);
    return tooDeep && tooDeepError(tooDeep, method.input, jsonDepthLimit(method.input));
  };
  const body = request.body;
  // connect-node always hands over the raw bytes; other adapters may pass JSON they have parsed already.
  if (body !== null && typeof body === "object" && Symbol.asyncIterator in body)
    request.body = checked(body as AsyncIterable<Uint8Array>, check);
  return { refusal: undefined, release };
}

/** Connect's unary JSON, uncompressed: the body is the JSON text itself, so it can be scanned as it arrives. */
function isPlainJson(request: UniversalServerRequest): boolean {
  const type = request.header.get("content-type")?.split(";", 1)[0]?.trim().toLowerCase();
  const encoding = request.header.get("content-encoding")?.trim().toLowerCase() ?? "identity";
  return type === "application/json" && encoding === "identity";
}

/**
 * Passes the chunks of `source` through `check`, failing with its error. A refusal does not cancel `source`:
 * cancelling a Node request destroys its socket before the answer is written, while a request left unread is
 * drained by Node once the answer is sent.
 */
async function* checked(
  source: AsyncIterable<Uint8Array>,
  check: (chunk: Uint8Array) => ConnectError | undefined,
): AsyncGenerator<Uint8Array> {
  const chunks = source[Symbol.asyncIterator]();
  let refused = false;
  try {
    for (;;) {
      const next = await chunks.next();
      if (next.done) return;
      const error = check(next.value);
      if (error) {
        refused = true;
        throw error;
      }
      yield next.value;
    }
  } finally {
    if (!refused) await chunks.return?.();
  }
}

/**
 * The outermost interceptor: connect-es calls it once the request message is decoded, so the call's body no
 * longer counts against the budget.
 */
export const bodyDecoded: Interceptor = (next) => (request) => {
  request.contextValues.get(releaseBodyKey)();
  return next(request);
};

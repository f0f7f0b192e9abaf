import { randomUUID } from "node:crypto";
import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { UniversalServerRequest } from "@connectrpc/connect/protocol";
import { MAX_LENGTH } from "../contacts/fields.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import { peerKey, principalKey, receivedAtKey, requestFirmId } from "./call-context.js";

const REQUEST_ID = "x-request-id";
// A caller's request id is echoed into logs: accept only a plain token, so it cannot forge log content.
const SAFE_REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

/**
 * Observes every call once: one log line (procedure, code, duration, firm, principal, peer, request id; never
 * the bodies, which hold personal data) and the call metrics. The request id is the caller's `x-request-id`
 * when it sends a usable one, a new UUID otherwise, and is returned in the `x-request-id` response header.
 * Runs outside authentication and error mapping, so it sees the code the client gets.
 */
export function loggingInterceptor(logger: Logger, metrics: Metrics): Interceptor {
  return (next) => async (request) => {
    // From the request's arrival, so the time spent reading and decoding its body counts too.
    const started = request.contextValues.get(receivedAtKey) ?? performance.now();
    const requestId = requestIdOf(request.header);
    const firm = requestFirmId(request);
    const method = `${request.service.typeName}/${request.method.name}`;
    // Connect's Code enum has no OK; gRPC's name for success is used.
    const observe = (code: string) =>
      observeCall(logger, metrics, {
        method,
        code,
        started,
        firm,
        principal: request.contextValues.get(principalKey)?.name,
        peer: request.contextValues.get(peerKey),
        requestId,
        protocol: request.requestMethod === "GET" ? "connect-get" : request.header.get("content-type"),
      });
    try {
      const response = await next(request);
      response.header.set(REQUEST_ID, requestId);
      if (!response.stream) {
        observe("OK");
        return response;
      }
      // A stream (WatchContactChanges) is logged when it ends, with the code it ends with.
      return { ...response, message: observeEnd(response.message, observe) };
    } catch (error) {
      const connectError = ConnectError.from(error);
      connectError.metadata.set(REQUEST_ID, requestId);
      observe(codeName(connectError.code));
      throw connectError;
    }
  };
}

async function* observeEnd<T>(messages: AsyncIterable<T>, observe: (code: string) => void) {
  // Still this when the stream is abandoned: the client went away.
  let code = "CANCELED";
  try {
    yield* messages;
    code = "OK";
  } catch (error) {
    code = codeName(ConnectError.from(error).code);
    throw error;
  } finally {
    observe(code);
  }
}

/** gRPC's name for a code ("INVALID_ARGUMENT"), as logs and metrics label it. */
export function codeName(code: Code): string {
  return (Code[code] ?? "UNKNOWN").replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/** The caller's request id when it sent a usable one, else a new UUID. */
function requestIdOf(header: Headers): string {
  const sent = header.get(REQUEST_ID);
  return sent !== null && SAFE_REQUEST_ID.test(sent) ? sent : randomUUID();
}

/**
 * Logs and counts a call refused from its headers before its body was read (see createNodeHandler's `admit`),
 * which never reaches the interceptors, and gives its error the request id: without this, refused calls would
 * be invisible in the log and the metrics.
 */
export function logRefusedCall(logger: Logger, metrics: Metrics) {
  return (method: DescMethod, error: ConnectError, request: UniversalServerRequest): void => {
    const values = request.contextValues;
    const started = values?.get(receivedAtKey) ?? performance.now();
    const requestId = requestIdOf(request.header);
    error.metadata.set(REQUEST_ID, requestId);
    observeCall(logger, metrics, {
      method: `${method.parent.typeName}/${method.name}`,
      code: codeName(error.code),
      started,
      peer: values?.get(peerKey),
      requestId,
      protocol: request.header.get("content-type"),
    });
  };
}

/** One finished call, as the log line and the metrics record it; absent fields are left out of the line. */
interface CallRecord {
  readonly method: string;
  readonly code: string;
  /** performance.now() at the request's arrival. */
  readonly started: number;
  readonly firm?: string | undefined;
  readonly principal?: string | undefined;
  readonly peer?: string | undefined;
  readonly requestId: string;
  readonly protocol: string | null;
}

function observeCall(logger: Logger, metrics: Metrics, call: CallRecord): void {
  const seconds = (performance.now() - call.started) / 1000;
  metrics.observeCall(call.method, call.code, seconds);
  logger.info(
    {
      method: call.method,
      code: call.code,
      durationMs: Math.round(seconds * 10_000) / 10,
      // Unvalidated input: cut to the longest valid firm id, so a huge one cannot bloat every log line.
      firm: call.firm?.slice(0, MAX_LENGTH.firmId),
      principal: call.principal,
      peer: call.peer,
      requestId: call.requestId,
      protocol: call.protocol,
    },
    "call",
  );
}

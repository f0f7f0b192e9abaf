import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { type Span, SpanStatusCode, trace } from "@opentelemetry/api";
import { MAX_LENGTH } from "../contacts/fields.js";
import { receivedAtKey, requestFirmId } from "../rpc/call-context.js";
import { SpanKind, type Tracing } from "./tracing.js";

/** The span attribute naming the call's firm (not personal data: the tenant, as every log line names it). */
export const FIRM_ATTRIBUTE = "contacts.firm_id";

// gRPC's semantic conventions: on a server these codes are its own fault; the others are the caller's outcome.
const SERVER_FAULTS = new Set([
  Code.Unknown,
  Code.DeadlineExceeded,
  Code.Unimplemented,
  Code.Internal,
  Code.Unavailable,
  Code.DataLoss,
]);

/**
 * One SERVER span per call, a child of the caller's W3C traceparent when it sent one (a new trace otherwise),
 * named and attributed by OpenTelemetry's RPC conventions: rpc.system (grpc for gRPC and gRPC-Web, connect_rpc
 * for Connect), rpc.service, rpc.method, rpc.grpc.status_code or rpc.connect_rpc.error_code, and the firm. The
 * span is active while the call runs, so the log lines and the spans below it join its trace. A stream is one
 * span, with an event per message sent. Runs outermost, so it sees the code the client gets.
 */
export function tracingInterceptor(tracing: Tracing): Interceptor {
  return (next) => async (request) => {
    const protocol = protocolOf(request.header.get("content-type"), request.requestMethod);
    const firm = requestFirmId(request)?.slice(0, MAX_LENGTH.firmId);
    const parent = tracing.extract(request.header);
    const span = tracing.tracer.startSpan(
      `${request.service.typeName}/${request.method.name}`,
      {
        kind: SpanKind.SERVER,
        // From the request's arrival: reading and decoding its body is part of the call.
        startTime: request.contextValues.get(receivedAtKey),
        attributes: {
          "rpc.system": protocol === "connect" ? "connect_rpc" : "grpc",
          "rpc.service": request.service.typeName,
          "rpc.method": request.method.name,
          "contacts.protocol": protocol,
          ...(firm !== undefined && { [FIRM_ATTRIBUTE]: firm }),
        },
      },
      parent,
    );
    const end = (error: unknown) => {
      endCall(span, protocol, error);
      span.end();
    };
    try {
      const response = await tracing.with(trace.setSpan(parent, span), () => next(request));
      if (!response.stream) {
        end(undefined);
        return response;
      }
      return { ...response, message: tracedStream(response.message, span, end) };
    } catch (error) {
      end(error);
      throw error;
    }
  };
}

type Protocol = "grpc" | "grpc-web" | "connect";

function protocolOf(contentType: string | null, method: string): Protocol {
  if (method === "GET" || contentType === null) return "connect";
  if (contentType.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType.startsWith("application/grpc")) return "grpc";
  return "connect";
}

/** Sets the status attributes of the call's protocol, and an error status for the server's own faults. */
function endCall(span: Span, protocol: Protocol, error: unknown): void {
  const code = error === undefined ? undefined : ConnectError.from(error).code;
  if (protocol === "connect") {
    if (code !== undefined) span.setAttribute("rpc.connect_rpc.error_code", connectCode(code));
  } else {
    span.setAttribute("rpc.grpc.status_code", code ?? 0);
  }
  if (code !== undefined) span.setAttribute("error.type", connectCode(code));
  // The message is never copied: it may quote the caller's values.
  if (code !== undefined && SERVER_FAULTS.has(code)) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: connectCode(code) });
  }
}

/** Connect's name for a code, like "not_found". */
function connectCode(code: Code): string {
  return (Code[code] ?? "Unknown").replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

/** Messages of a stream pass through; each adds an event to the call's span, which ends with the stream. */
async function* tracedStream<T>(messages: AsyncIterable<T>, span: Span, end: (error: unknown) => void) {
  let sent = 0;
  // Still this when the stream is abandoned: the client went away.
  let error: unknown = new ConnectError("the client went away", Code.Canceled);
  try {
    for await (const message of messages) {
      sent++;
      span.addEvent("message", { "rpc.message.type": "SENT", "rpc.message.id": sent });
      yield message;
    }
    error = undefined;
  } catch (thrown) {
    error = thrown;
    throw thrown;
  } finally {
    span.setAttribute("contacts.messages_sent", sent);
    end(error);
  }
}

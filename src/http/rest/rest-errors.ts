import { createRegistry, fromBinary, type JsonObject, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeFromHttpStatus, errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";
import {
  file_google_rpc_error_details,
  RetryInfoSchema,
} from "../../../gen-deps/google/rpc/error_details_pb.js";

/** google.rpc.Code's name and HTTP status for each code, as google/rpc/code.proto maps them. */
const GOOGLE_CODES: Readonly<Record<Code, readonly [string, number]>> = {
  [Code.Canceled]: ["CANCELLED", 499],
  [Code.Unknown]: ["UNKNOWN", 500],
  [Code.InvalidArgument]: ["INVALID_ARGUMENT", 400],
  [Code.DeadlineExceeded]: ["DEADLINE_EXCEEDED", 504],
  [Code.NotFound]: ["NOT_FOUND", 404],
  [Code.AlreadyExists]: ["ALREADY_EXISTS", 409],
  [Code.PermissionDenied]: ["PERMISSION_DENIED", 403],
  [Code.ResourceExhausted]: ["RESOURCE_EXHAUSTED", 429],
  [Code.FailedPrecondition]: ["FAILED_PRECONDITION", 400],
  [Code.Aborted]: ["ABORTED", 409],
  [Code.OutOfRange]: ["OUT_OF_RANGE", 400],
  [Code.Unimplemented]: ["UNIMPLEMENTED", 501],
  [Code.Internal]: ["INTERNAL", 500],
  [Code.Unavailable]: ["UNAVAILABLE", 503],
  [Code.DataLoss]: ["DATA_LOSS", 500],
  [Code.Unauthenticated]: ["UNAUTHENTICATED", 401],
};

/** The HTTP status of a code on the REST routes (google.rpc.Code's mapping). */
export function restHttpStatus(code: Code): number {
  return GOOGLE_CODES[code][1];
}

// The details our errors carry (BadRequest, ErrorInfo, RetryInfo...), written in JSON with their fields.
const registry = createRegistry(file_google_rpc_error_details);

/** A REST error answer: status, the AIP-193 body, and the headers it implies. */
export interface RestError {
  readonly status: number;
  readonly body: { error: JsonObject };
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * The AIP-193 error (`{"error":{"code":400,"message":…,"status":"INVALID_ARGUMENT","details":[…]}}`) for a
 * Connect JSON error answer, with the same message and details, each detail as protobuf JSON of an Any
 * (`@type` and its fields). A google.rpc.RetryInfo detail also gives `Retry-After`, in whole seconds.
 */
export function restErrorFromConnect(httpStatus: number, body: Uint8Array): RestError {
  let error: ConnectError;
  try {
    error = errorFromJsonBytes(body, undefined, new ConnectError("", codeFromHttpStatus(httpStatus)));
  } catch (e) {
    error = ConnectError.from(e);
  }
  return restError(error);
}

/** The AIP-193 error for a ConnectError. */
export function restError(error: ConnectError): RestError {
  const [status, httpStatus] = GOOGLE_CODES[error.code];
  const headers: Record<string, string> = {};
  const details = error.details.map((detail): JsonObject => {
    const type = "desc" in detail ? detail.desc.typeName : detail.type;
    const desc = registry.getMessage(type);
    const message =
      "desc" in detail ? detail.value : desc && fromBinary(desc, detail.value, { readUnknownFields: false });
    if (!desc || !message) return { "@type": `type.googleapis.com/${type}` };
    if (desc.typeName === RetryInfoSchema.typeName) {
      const delay = (message as { retryDelay?: { seconds: bigint; nanos: number } }).retryDelay;
      const seconds = delay ? Number(delay.seconds) + delay.nanos / 1e9 : 0;
      headers["retry-after"] = String(Math.max(1, Math.ceil(seconds)));
    }
    return {
      "@type": `type.googleapis.com/${type}`,
      ...(toJson(desc, message as never, { registry }) as JsonObject),
    };
  });
  return {
    status: httpStatus,
    body: { error: { code: httpStatus, message: error.rawMessage, status, details } },
    headers,
  };
}

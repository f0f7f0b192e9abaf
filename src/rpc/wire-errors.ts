import { create, type DescMessage, type DescMethod, toBinary } from "@bufbuild/protobuf";
import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { BadRequestSchema } from "../../gen-deps/google/rpc/error_details_pb.js";

// connect-es reports a request body that is not valid protobuf as INTERNAL with this message prefix. The bytes
// came from the client, so the client gets INVALID_ARGUMENT, as it does for malformed JSON.
const PARSE_FAILURE = "parse binary: ";
// protobuf-es names a JSON field it cannot decode by its proto name: "cannot decode field pkg.Msg.zip_code ...".
const JSON_FIELD_FAILURE = /^cannot decode field [\w.]+\.(\w+) from JSON: (.*)$/s;
// protobuf-es names an unknown JSON key: `cannot decode message pkg.Msg from JSON: key "firstname" is unknown`.
const JSON_UNKNOWN_FIELD = /^cannot decode message [\w.]+ from JSON: key "(.*)" is unknown$/s;
// protobuf-es refuses a JSON field mask without naming the field: "cannot decode message
// google.protobuf.FieldMask from JSON: path names must be lowerCamelCase" (a proto name such as first_name).
const JSON_FIELD_MASK_FAILURE = /^cannot decode message google\.protobuf\.FieldMask from JSON: (.*)$/s;
// connect-es names its own option in a size refusal: "message size 70000 is larger than configured
// readMaxBytes 65536" (or "... after decompression"), which means nothing to the service's callers.
const READ_MAX_BYTES =
  /^message (?:size (?:(\d+) )?)?is larger than configured readMaxBytes (\d+)( after decompression)?$/;
// A misspelt key is echoed back so the caller can find it, but cut: it is unvalidated input.
const MAX_ECHOED_KEY = 100;
const GRPC_INVALID_ARGUMENT = "3";
const GRPC_INTERNAL = "13";
const TRAILER_FLAG = 0x80;

/**
 * Wraps a connect-es handler to correct how its error answers look on the wire:
 * - requests it cannot decode get the same kind of answer as any other bad input: undecodable protobuf is
 *   INVALID_ARGUMENT (HTTP 400 over Connect) instead of INTERNAL on the Connect, gRPC and gRPC-Web protocols
 *   alike, and a JSON field of the wrong type or with invalid text is named by its JSON name with a
 *   google.rpc.BadRequest detail;
 * - an unknown JSON field is named with a google.rpc.BadRequest detail (`firstname: unknown field`);
 * - a request over its size limit is refused naming the limit and MAX_REQUEST_BYTES, not connect-es's option;
 * - gRPC's grpc-message is percent-encoded as the gRPC spec says (only bytes outside printable ASCII, and %),
 *   not with encodeURIComponent, which grpc-js decodes with decodeURI and so shows callers "email%3A ...".
 * Every other response passes through untouched.
 */
export function correctWireErrors(handler: UniversalHandler): UniversalHandler {
  const wrapped = async (request: Parameters<UniversalHandler>[0]): Promise<UniversalServerResponse> => {
    const response = await handler(request);
    const contentType = request.header.get("content-type") ?? "";
    const explain = (message: string) => explainMessage(message, handler.method);
    if (contentType.startsWith("application/grpc-web"))
      return mapBody(response, (chunk) => rewriteGrpcWebTrailer(chunk, explain));
    if (contentType.startsWith("application/grpc")) return fixGrpcTrailer(response, explain);
    return response.status === 500 || response.status === 400 || response.status === 429
      ? fixConnectError(response, handler.method.input, explain)
      : response;
  };
  return Object.assign(wrapped, { ...handler });
}

/** Says in the service's own terms what connect-es or protobuf-es said in theirs; other messages pass as they are. */
function explainMessage(message: string, method: DescMethod): string {
  const unknown = JSON_UNKNOWN_FIELD.exec(message);
  if (unknown) return `${(unknown[1] as string).slice(0, MAX_ECHOED_KEY)}: unknown field`;
  const tooLarge = READ_MAX_BYTES.exec(message);
  if (tooLarge) {
    const size = tooLarge[1] ? ` (${tooLarge[1]} bytes)` : "";
    return `the request${size} is larger${tooLarge[3] ?? ""} than the ${tooLarge[2]}-byte limit of ${method.parent.typeName}/${method.name} (each RPC has its own limit, at most MAX_REQUEST_BYTES)`;
  }
  return message;
}

function isParseFailure(status: string | null, message: string | null): boolean {
  return status === GRPC_INTERNAL && message !== null && safeDecode(message).startsWith(PARSE_FAILURE);
}

function safeDecode(message: string): string {
  try {
    return decodeURIComponent(message);
  } catch {
    return message;
  }
}

/** The gRPC spec's Percent-Encoded: printable ASCII but % as is, every other UTF-8 byte as %XX. */
export function grpcPercentEncode(message: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(message)) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** gRPC: the status travels in trailers, which the adapter reads only after the body is written. */
function fixGrpcTrailer(
  response: UniversalServerResponse,
  explain: (message: string) => string,
): UniversalServerResponse {
  const trailer = response.trailer;
  if (!(trailer instanceof Headers)) return response;
  const fix = () => {
    const message = trailer.get("grpc-message");
    if (message === null) return;
    if (isParseFailure(trailer.get("grpc-status"), message))
      trailer.set("grpc-status", GRPC_INVALID_ARGUMENT);
    trailer.set("grpc-message", grpcPercentEncode(explain(safeDecode(message))));
  };
  if (response.body === undefined) {
    fix();
    return response;
  }
  return mapBody(response, (chunk) => chunk, fix);
}

/** gRPC-Web: the trailers are the body's last envelope (flag 0x80), as HTTP/1-style header lines. */
function rewriteGrpcWebTrailer(chunk: Uint8Array, explain: (message: string) => string): Uint8Array {
  let offset = 0;
  while (offset + 5 <= chunk.length) {
    const view = new DataView(chunk.buffer, chunk.byteOffset + offset);
    const length = view.getUint32(1);
    if (offset + 5 + length > chunk.length) return chunk; // not a whole envelope: not ours to touch
    if ((view.getUint8(0) & TRAILER_FLAG) !== 0) {
      const text = new TextDecoder().decode(chunk.subarray(offset + 5, offset + 5 + length));
      const status = /^grpc-status: *(\d+)\r?$/m.exec(text)?.[1] ?? null;
      const message = /^grpc-message: *(.*?)\r?$/m.exec(text)?.[1] ?? null;
      if (message === null) return chunk;
      const explained = explain(safeDecode(message));
      const parseFailure = isParseFailure(status, message);
      if (!parseFailure && explained === safeDecode(message)) return chunk;
      let fixedText = text.replace(
        /^grpc-message: *.*?(\r?)$/m,
        (_, cr: string) => `grpc-message: ${grpcPercentEncode(explained)}${cr}`,
      );
      if (parseFailure)
        fixedText = fixedText.replace(/^grpc-status: *13/m, `grpc-status: ${GRPC_INVALID_ARGUMENT}`);
      const fixed = new TextEncoder().encode(fixedText);
      const out = new Uint8Array(offset + 5 + fixed.length);
      out.set(chunk.subarray(0, offset + 1));
      new DataView(out.buffer).setUint32(offset + 1, fixed.length);
      out.set(fixed, offset + 5);
      return out;
    }
    offset += 5 + length;
  }
  return chunk;
}

/** Connect: a unary error is a JSON body with the code, and an HTTP status derived from it. */
async function fixConnectError(
  response: UniversalServerResponse,
  input: DescMessage,
  explain: (message: string) => string,
): Promise<UniversalServerResponse> {
  const bytes = await readAll(response.body);
  let error: { code?: string; message?: string; details?: unknown[] };
  try {
    error = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return { ...response, body: single(bytes) }; // not a Connect error body: send it as it was
  }
  const fieldFailure =
    error.code === "invalid_argument" ? JSON_FIELD_FAILURE.exec(error.message ?? "") : null;
  const field = fieldFailure && input.fields.find((f) => f.name === fieldFailure[1]);
  const unknownKey =
    error.code === "invalid_argument" ? JSON_UNKNOWN_FIELD.exec(error.message ?? "")?.[1] : undefined;
  const maskFailure =
    error.code === "invalid_argument" ? JSON_FIELD_MASK_FAILURE.exec(error.message ?? "") : null;
  const maskField =
    maskFailure && input.fields.find((f) => f.message?.typeName === "google.protobuf.FieldMask");
  if (maskFailure && maskField) {
    // The JSON mapping of a FieldMask is one string of lowerCamelCase paths; proto names are for protobuf bodies.
    const description = maskFailure[1]?.startsWith("path names must be lowerCamelCase")
      ? `must name fields by their JSON names in JSON ("firstName,city"); proto names such as first_name work only in protobuf requests`
      : `must be one string of comma-separated JSON field names ("firstName,city")`;
    error = badRequest(maskField.jsonName, description);
  } else if (unknownKey !== undefined) {
    const key = unknownKey.slice(0, MAX_ECHOED_KEY);
    error = badRequest(key, "unknown field");
  } else if (field && fieldFailure) {
    error = badRequest(field.jsonName, `cannot be decoded from JSON: ${fieldFailure[2]}`);
  } else if (error.code === "internal" && error.message?.startsWith(PARSE_FAILURE)) {
    error = { code: "invalid_argument", message: error.message };
  } else if (error.message !== undefined && explain(error.message) !== error.message) {
    error = { ...error, message: explain(error.message) };
  } else {
    return { ...response, body: single(bytes) };
  }
  const body = new TextEncoder().encode(JSON.stringify(error));
  const header = new Headers(response.header);
  header.set("content-length", String(body.byteLength)); // the library set it for the body replaced here
  return {
    ...response,
    status: error.code === "invalid_argument" ? 400 : response.status,
    header,
    body: single(body),
  };
}

/** A Connect error body refusing one field, with the google.rpc.BadRequest detail that names it. */
function badRequest(field: string, description: string) {
  const detail = toBinary(
    BadRequestSchema,
    create(BadRequestSchema, { fieldViolations: [{ field, description }] }),
  );
  return {
    code: "invalid_argument",
    message: `${field}: ${description}`,
    details: [
      { type: BadRequestSchema.typeName, value: Buffer.from(detail).toString("base64").replace(/=+$/, "") },
    ],
  };
}

function mapBody(
  response: UniversalServerResponse,
  map: (chunk: Uint8Array) => Uint8Array,
  onEnd?: () => void,
): UniversalServerResponse {
  const body = response.body;
  if (body === undefined) return response;
  const mapped = async function* (source: AsyncIterable<Uint8Array>) {
    for await (const chunk of source) yield map(chunk);
    onEnd?.();
  };
  return { ...response, body: mapped(body) };
}

async function readAll(body: UniversalServerResponse["body"]): Promise<Uint8Array> {
  if (body === undefined) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function* single(bytes: Uint8Array) {
  yield bytes;
}

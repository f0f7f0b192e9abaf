import { create, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema } from "../../gen-deps/google/rpc/error_details_pb.js";

// Well-known types whose JSON form is a string or a number, not an object.
const SCALAR_JSON = new Set(
  [
    "Timestamp",
    "Duration",
    "FieldMask",
    "DoubleValue",
    "FloatValue",
    "Int64Value",
    "UInt64Value",
    "Int32Value",
    "UInt32Value",
    "BoolValue",
    "StringValue",
    "BytesValue",
  ].map((name) => `google.protobuf.${name}`),
);
// Well-known types that nest as deep as the client likes (Any embeds any message of the registry).
const UNBOUNDED_JSON = new Set(
  ["Struct", "Value", "ListValue", "Any"].map((name) => `google.protobuf.${name}`),
);
/**
 * The depth allowed for a schema that can nest without bound (a recursive message, Struct, Any). None of the
 * requests served here can; 32 still stops a bomb after a few bytes instead of after megabytes.
 */
export const UNBOUNDED_JSON_DEPTH = 32;
// A key echoed back in an error is unvalidated input: cut, like wire-errors.ts does.
const MAX_ECHOED_KEY = 100;

/**
 * The deepest nesting of objects and arrays a valid JSON encoding of `desc` can have: 1 for a message of
 * scalars, plus one per message field, list or map on the way down (BatchUpsertContactsRequest: the request
 * object, its `requests` array, each item object: 3). Infinity for schemas that can nest without bound.
 */
export function jsonDepthOf(desc: DescMessage, open: ReadonlySet<string> = new Set()): number {
  if (SCALAR_JSON.has(desc.typeName)) return 0;
  if (UNBOUNDED_JSON.has(desc.typeName) || open.has(desc.typeName)) return Number.POSITIVE_INFINITY;
  const inside = new Set(open).add(desc.typeName);
  let deepest = 0;
  for (const field of desc.fields) {
    const element = elementMessage(field);
    const inner = element ? jsonDepthOf(element, inside) : 0;
    deepest = Math.max(deepest, field.fieldKind === "list" || field.fieldKind === "map" ? 1 + inner : inner);
  }
  return 1 + deepest;
}

/** The JSON depth a request of `desc` is allowed: its schema's, or UNBOUNDED_JSON_DEPTH where that has none. */
export function jsonDepthLimit(desc: DescMessage): number {
  return Math.min(jsonDepthOf(desc), UNBOUNDED_JSON_DEPTH);
}

function elementMessage(field: DescField): DescMessage | undefined {
  switch (field.fieldKind) {
    case "message":
      return field.message;
    case "list":
      return field.listKind === "message" ? field.message : undefined;
    case "map":
      return field.mapKind === "message" ? field.message : undefined;
    default:
      return undefined;
  }
}

/** Where a JSON text first nests deeper than allowed: the top-level key it happens under, if any. */
export interface TooDeep {
  readonly key: string | undefined;
}

/**
 * One pass over the bytes of a JSON text, without parsing it: undefined if no object or array opens deeper
 * than `limit`, else where the first one does. Stops at that byte, so a nesting bomb costs only its prefix.
 * Invalid JSON is left for the parser to refuse.
 */
export function findTooDeep(bytes: Uint8Array, limit: number): TooDeep | undefined {
  return depthScanner(limit)(bytes);
}

/**
 * findTooDeep over a text that arrives in chunks: feed each chunk in order; the first answer that is not
 * undefined is final. String contents are skipped (a backslash skips the byte after it, in the next chunk if
 * need be; UTF-8 continuation bytes are all >= 0x80, so they never look like a quote or a bracket).
 */
export function depthScanner(limit: number): (chunk: Uint8Array) => TooDeep | undefined {
  let depth = 0;
  let inString = false;
  let escaped = false;
  // The bytes of the string being read at depth 1 and of the last one finished there (the current key).
  let text: number[] = [];
  let key: number[] | undefined;
  return (chunk) => {
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i] as number;
      if (inString) {
        if (escaped) escaped = false;
        else if (byte === 0x5c) escaped = true;
        else if (byte === 0x22) {
          inString = false;
          // At depth 1 the last string before a nested value is that value's key.
          if (depth === 1) key = text;
          continue;
        }
        if (depth === 1 && text.length < MAX_ECHOED_KEY * 4) text.push(byte);
      } else if (byte === 0x22) {
        inString = true;
        text = [];
      } else if (byte === 0x7b || byte === 0x5b) {
        if (++depth > limit) {
          const name = key && new TextDecoder().decode(new Uint8Array(key)).slice(0, MAX_ECHOED_KEY);
          return { key: name };
        }
      } else if (byte === 0x7d || byte === 0x5d) {
        depth--;
      }
    }
    return undefined;
  };
}

/** INVALID_ARGUMENT for a JSON request nested deeper than its schema allows, naming the key it is under. */
export function tooDeepError(tooDeep: TooDeep, desc: DescMessage, limit: number): ConnectError {
  const description = `nested deeper than ${limit} level${limit === 1 ? "" : "s"} of JSON objects and arrays, the most a valid ${desc.typeName} has`;
  if (tooDeep.key === undefined)
    return new ConnectError(`the request is ${description}`, Code.InvalidArgument);
  return new ConnectError(`${tooDeep.key}: ${description}`, Code.InvalidArgument, undefined, [
    {
      desc: BadRequestSchema,
      value: create(BadRequestSchema, { fieldViolations: [{ field: tooDeep.key, description }] }),
    },
  ]);
}

/**
 * A TextDecoder for connect-es's JSON serialization of `desc` that first refuses text nested deeper than the
 * schema allows: connect-es decodes the (decompressed) body with it right before JSON.parse, whose cost grows
 * with nesting and blocks the event loop (about 1.4 s for 8 MB of brackets).
 */
export function depthCheckingDecoder(
  desc: DescMessage,
  decoder: { decode(bytes: Uint8Array): string },
): { decode(bytes: Uint8Array): string } {
  const limit = jsonDepthLimit(desc);
  return {
    decode(bytes) {
      const tooDeep = findTooDeep(bytes, limit);
      if (tooDeep) throw tooDeepError(tooDeep, desc, limit);
      return decoder.decode(bytes);
    },
  };
}

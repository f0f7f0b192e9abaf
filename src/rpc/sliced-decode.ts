import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import {
  type BinaryReadOptions,
  type DescField,
  type DescMessage,
  fromBinary,
  fromJson,
  fromJsonString,
  type JsonReadOptions,
  type JsonValue,
  type Message,
} from "@bufbuild/protobuf";
import { Code, ConnectError, createContextKey, type Interceptor } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";
import { depthScanner, jsonDepthLimit, tooDeepError } from "./json-depth.js";

/**
 * The longest stretch of decoding between two turns of the event loop. A maximum batch (12 MB of JSON) takes
 * about half a second to decode in one piece; one item (12 KB) about half a millisecond.
 */
export const DECODE_SLICE_MS = 5;
// Bytes scanned between two turns of the event loop: a few milliseconds' worth.
const SCAN_SLICE_BYTES = 256 * 1024;

/** A request message decoded before connect-es saw the call (see decodingInSlices). */
export const decodedMessageKey = createContextKey<Message | undefined>(undefined, {
  description: "decoded message",
});

/**
 * The interceptor that hands the implementation the message decoded in slices: connect-es decoded only an
 * empty stand-in. It must run before any interceptor that reads the message (authorization, logging).
 */
export const sliceDecoded: Interceptor = (next) => (request) => {
  if (request.stream) return next(request);
  const message = request.contextValues.get(decodedMessageKey);
  return next(message ? { ...request, message } : request);
};

/** The repeated message field whose items are decoded one slice at a time, if the input has one. */
export function sliceField(desc: DescMessage): (DescField & { fieldKind: "list" }) | undefined {
  return desc.fields.find(
    (field): field is DescField & { fieldKind: "list" } =>
      field.fieldKind === "list" && field.listKind === "message",
  );
}

interface Wire {
  readonly format: "json" | "binary";
  /** gRPC and gRPC-Web put the message in a 5-byte envelope; Connect's unary body is the message. */
  readonly enveloped: boolean;
}

/** The wire formats decoded here: uncompressed Connect unary, gRPC and gRPC-Web (not gRPC-Web-Text). */
function wireOf(request: UniversalServerRequest): Wire | undefined {
  const type = request.header.get("content-type")?.split(";", 1)[0]?.trim().toLowerCase() ?? "";
  const encoding = request.header.get("content-encoding")?.trim().toLowerCase() ?? "identity";
  if (request.method !== "POST") return undefined;
  if (type === "application/json" && encoding === "identity") return { format: "json", enveloped: false };
  if (type === "application/proto" && encoding === "identity") return { format: "binary", enveloped: false };
  const grpc = /^application\/grpc(?:-web)?(?:\+(proto|json))?$/.exec(type);
  if (grpc) return { format: grpc[1] === "json" ? "json" : "binary", enveloped: true };
  return undefined;
}

export interface SliceOptions {
  readonly readMaxBytes: number;
  readonly json: Partial<JsonReadOptions>;
  readonly binary?: Partial<BinaryReadOptions>;
  readonly decoder: { decode(bytes: Uint8Array): string };
}

/**
 * Wraps the handler of a method whose input has a repeated message field (BatchUpsertContacts) so that its
 * request is decoded one item at a time, yielding to the event loop every DECODE_SLICE_MS: decoding a
 * 12 MB batch in one piece would stall every other call for half a second. The decoded message goes to the
 * implementation through decodedMessageKey; connect-es decodes an empty stand-in. Compressed bodies and other
 * wire forms are left to connect-es as they are.
 */
export function decodingInSlices(handler: UniversalHandler, options: SliceOptions): UniversalHandler {
  const desc = handler.method.input;
  const field = sliceField(desc);
  if (!field) return handler;
  const wrapped = async (request: UniversalServerRequest) => {
    const wire = wireOf(request);
    const body = request.body;
    if (!wire || body === null || typeof body !== "object" || !(Symbol.asyncIterator in body))
      return handler(request);
    try {
      const bytes = await readAll(body as AsyncIterable<Uint8Array>, options.readMaxBytes);
      const payload = wire.enveloped ? unenvelope(bytes) : bytes;
      if (!payload) {
        request.body = once(bytes); // compressed, or not one envelope: connect-es decides
        return handler(request);
      }
      const message = await decodeInSlices(desc, wire.format, payload, options, request.signal);
      request.contextValues?.set(decodedMessageKey, message);
      const standIn = new TextEncoder().encode(wire.format === "json" ? "{}" : "");
      request.body = once(wire.enveloped ? envelope(standIn) : standIn);
      request.header.delete("content-length");
    } catch (error) {
      request.body = (async function* failed(): AsyncGenerator<Uint8Array> {
        yield* [];
        throw error;
      })();
    }
    return handler(request);
  };
  return Object.assign(wrapped, { ...handler });
}

/**
 * Decodes `bytes` (JSON or binary) as `desc` exactly as connect-es would, errors included, but the items of its
 * repeated message field one at a time, yielding to the event loop every DECODE_SLICE_MS.
 */
export function decodeInSlices(
  desc: DescMessage,
  format: "json" | "binary",
  bytes: Uint8Array,
  options: SliceOptions,
  signal: AbortSignal,
): Promise<Message> {
  const field = sliceField(desc);
  if (!field) throw new Error(`${desc.typeName} has no repeated message field`);
  return format === "json"
    ? decodeJson(desc, field, bytes, options, signal)
    : decodeBinary(desc, field, bytes, options, signal);
}

async function readAll(body: AsyncIterable<Uint8Array>, readMaxBytes: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    // connect-es's own words, which wire-errors.ts explains to the caller.
    if (size > readMaxBytes + 5)
      throw new ConnectError(
        `message size ${size} is larger than configured readMaxBytes ${readMaxBytes}`,
        Code.ResourceExhausted,
      );
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The payload of exactly one uncompressed envelope, else undefined. */
function unenvelope(bytes: Uint8Array): Uint8Array | undefined {
  if (bytes.length < 5 || bytes[0] !== 0) return undefined;
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1);
  return length === bytes.length - 5 ? bytes.subarray(5) : undefined;
}

function envelope(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  new DataView(out.buffer).setUint32(1, payload.length);
  out.set(payload, 5);
  return out;
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/** Runs `decodeItem` over `items`, giving the event loop a turn every DECODE_SLICE_MS. */
async function eachInSlices<T>(items: readonly T[], decodeItem: (item: T) => void, signal: AbortSignal) {
  let sliceStart = performance.now();
  for (const item of items) {
    decodeItem(item);
    if (performance.now() - sliceStart >= DECODE_SLICE_MS) {
      await yieldToEventLoop();
      signal.throwIfAborted();
      sliceStart = performance.now();
    }
  }
}

async function decodeJson(
  desc: DescMessage,
  field: DescField & { fieldKind: "list" },
  bytes: Uint8Array,
  options: SliceOptions,
  signal: AbortSignal,
): Promise<Message> {
  const limit = jsonDepthLimit(desc);
  const scan = depthScanner(limit);
  for (let start = 0; start < bytes.length; start += SCAN_SLICE_BYTES) {
    const tooDeep = scan(bytes.subarray(start, start + SCAN_SLICE_BYTES));
    if (tooDeep) throw tooDeepError(tooDeep, desc, limit);
    await yieldToEventLoop();
  }
  const itemDesc = field.message as DescMessage;
  // protobuf-es's errors, as connect-es wraps them, so wire-errors.ts names fields the same way.
  const asConnectError = (error: unknown) => ConnectError.from(error, Code.InvalidArgument);
  try {
    const array = await topLevelArray(bytes, [field.jsonName, field.name]);
    if (!array) return fromJsonString(desc, options.decoder.decode(bytes), options.json);
    const text = (start: number, end: number) => options.decoder.decode(bytes.subarray(start, end));
    const message = fromJsonString(
      desc,
      `${text(0, array.open)}[]${text(array.close + 1, bytes.length)}`,
      options.json,
    );
    const list = (message as unknown as Record<string, Message[]>)[field.localName] as Message[];
    await eachInSlices(
      array.elements,
      ([start, end]) => {
        try {
          list.push(fromJson(itemDesc, JSON.parse(text(start, end)) as JsonValue, options.json));
        } catch (error) {
          throw asConnectError(error);
        }
      },
      signal,
    );
    return message;
  } catch (error) {
    throw asConnectError(error);
  }
}

/**
 * The byte ranges of the elements of the array that is the value of the top-level key `keys` (by JSON or proto
 * name), and of its brackets. Undefined when there is no such array, the key appears twice, or an element is not
 * an object (null, say): such a body is decoded in one piece, exactly as before.
 */
async function topLevelArray(
  bytes: Uint8Array,
  keys: readonly string[],
): Promise<{ open: number; close: number; elements: [number, number][] } | undefined> {
  const wanted = keys.map((key) => Buffer.from(`"${key}"`));
  let depth = 0;
  let inString = false;
  let stringStart = 0;
  let lastKeyWanted = false;
  let found: { open: number; close: number; elements: [number, number][] } | undefined;
  let inArray = false;
  let elementStart = -1;
  // True right after the list's "[" or a comma: an item must come next.
  let separated = false;
  let nextYield = SCAN_SLICE_BYTES;
  for (let i = 0; i < bytes.length; i++) {
    if (i >= nextYield) {
      await yieldToEventLoop();
      nextYield += SCAN_SLICE_BYTES;
    }
    const byte = bytes[i] as number;
    if (inString) {
      if (byte === 0x5c) i++;
      else if (byte === 0x22) {
        inString = false;
        if (depth === 1) {
          const raw = bytes.subarray(stringStart, i + 1);
          lastKeyWanted = wanted.some((key) => key.equals(raw));
        }
      }
      continue;
    }
    // Between the list's items only objects, commas and white space may appear: anything else (a scalar, null,
    // a missing or trailing comma) is left to the whole decode, which refuses or accepts it as it always did.
    if (inArray && depth === 2 && byte > 0x20 && byte !== 0x5d) {
      if (byte === 0x2c ? separated : !separated || byte !== 0x7b) return undefined;
      separated = byte === 0x2c;
    }
    if (byte === 0x22) {
      inString = true;
      stringStart = i;
    } else if (byte === 0x7b || byte === 0x5b) {
      depth++;
      if (depth === 2 && byte === 0x5b && lastKeyWanted) {
        if (found) return undefined;
        found = { open: i, close: -1, elements: [] };
        inArray = true;
        separated = true;
      } else if (depth === 3 && inArray) {
        elementStart = i;
      }
    } else if (byte === 0x7d || byte === 0x5d) {
      if (depth === 3 && inArray && found) {
        found.elements.push([elementStart, i + 1]);
      } else if (depth === 2 && inArray && found) {
        // "[]" is fine; "[{...},]" is not.
        if (separated && found.elements.length > 0) return undefined;
        found.close = i;
        inArray = false;
      }
      depth--;
    }
    if (depth === 1 && byte === 0x2c) lastKeyWanted = false;
  }
  return found && found.close >= 0 ? found : undefined;
}

async function decodeBinary(
  desc: DescMessage,
  field: DescField & { fieldKind: "list" },
  bytes: Uint8Array,
  options: SliceOptions,
  signal: AbortSignal,
): Promise<Message> {
  // connect-es's own error, which wire-errors.ts turns into INVALID_ARGUMENT.
  const parseError = (error: unknown) =>
    new ConnectError(
      `parse binary: ${error instanceof Error ? error.message : String(error)}`,
      Code.Internal,
    );
  const split = splitRepeated(bytes, field.number);
  try {
    if (!split) return fromBinary(desc, bytes, options.binary);
    const message = fromBinary(desc, Buffer.concat(split.rest), options.binary);
    const list = (message as unknown as Record<string, Message[]>)[field.localName] as Message[];
    const itemDesc = field.message as DescMessage;
    await eachInSlices(split.items, (item) => list.push(fromBinary(itemDesc, item, options.binary)), signal);
    return message;
  } catch (error) {
    throw error instanceof ConnectError ? error : parseError(error);
  }
}

/**
 * Splits a binary message into the payloads of field `number` (length-delimited) and everything else, in
 * order. Undefined if the bytes are not a well-formed sequence of fields: fromBinary then reports the error.
 */
function splitRepeated(
  bytes: Uint8Array,
  number: number,
): { items: Uint8Array[]; rest: Uint8Array[] } | undefined {
  const items: Uint8Array[] = [];
  const rest: Uint8Array[] = [];
  let pos = 0;
  const varint = (): number | undefined => {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (pos >= bytes.length) return undefined;
      const byte = bytes[pos++] as number;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
    return undefined;
  };
  while (pos < bytes.length) {
    const start = pos;
    const tag = varint();
    if (tag === undefined) return undefined;
    const wireType = tag % 8;
    if (wireType === 0) {
      if (varint() === undefined) return undefined;
    } else if (wireType === 1) pos += 8;
    else if (wireType === 5) pos += 4;
    else if (wireType === 2) {
      const length = varint();
      if (length === undefined || pos + length > bytes.length) return undefined;
      if (Math.floor(tag / 8) === number) {
        items.push(bytes.subarray(pos, pos + length));
        pos += length;
        continue;
      }
      pos += length;
    } else return undefined; // groups: not in these schemas
    if (pos > bytes.length) return undefined;
    rest.push(bytes.subarray(start, pos));
  }
  return { items, rest };
}

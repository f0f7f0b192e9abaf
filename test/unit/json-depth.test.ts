import { StructSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  BatchUpsertContactsRequestSchema,
  ListContactsRequestSchema,
  UpdateContactRequestSchema,
  UpsertContactRequestSchema,
} from "../../gen/contacts/v1/contact_service_pb.js";
import { BadRequestSchema } from "../../gen-deps/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen-deps/google/rpc/status_pb.js";
import {
  depthCheckingDecoder,
  findTooDeep,
  jsonDepthLimit,
  jsonDepthOf,
  UNBOUNDED_JSON_DEPTH,
} from "../../src/rpc/json-depth.js";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("jsonDepthOf: the deepest nesting a valid request can have, from its schema", () => {
  it("counts the request object, each list or map, and each message on the way down", () => {
    expect(jsonDepthOf(UpsertContactRequestSchema)).toBe(1);
    // {"requests": [ {item} ]}
    expect(jsonDepthOf(BatchUpsertContactsRequestSchema)).toBe(3);
    // {"contact": {"clientIds": [ ... ]}}; the field mask is a JSON string.
    expect(jsonDepthOf(UpdateContactRequestSchema)).toBe(3);
    // updatedAfter is a Timestamp, a JSON string.
    expect(jsonDepthOf(ListContactsRequestSchema)).toBe(1);
  });

  it("has no bound for schemas that nest freely, so the limit falls back to a constant", () => {
    expect(jsonDepthOf(StructSchema)).toBe(Number.POSITIVE_INFINITY);
    // google.rpc.Status carries details as Any.
    expect(jsonDepthOf(StatusSchema)).toBe(Number.POSITIVE_INFINITY);
    expect(jsonDepthLimit(StructSchema)).toBe(UNBOUNDED_JSON_DEPTH);
    expect(jsonDepthLimit(BatchUpsertContactsRequestSchema)).toBe(3);
  });
});

describe("findTooDeep: a byte scan for nesting beyond the limit", () => {
  it("accepts text exactly at the limit and refuses one level more, naming the top-level key", () => {
    expect(findTooDeep(bytes('{"firmId":"a","requests":[{"email":"x"}]}'), 3)).toBeUndefined();
    expect(findTooDeep(bytes('{"firmId":"a","requests":[[{"email":"x"}]]}'), 3)).toEqual({ key: "requests" });
    expect(findTooDeep(bytes("[[[[]]]]"), 3)).toEqual({ key: undefined });
  });

  it("skips brackets and quotes inside strings, escaped quotes and backslashes included", () => {
    const text = JSON.stringify({ note: 'a [[[[{{{{ "quoted [[" \\ ]]]] }}}}', "k[": "[[[", last: "\\" });
    expect(JSON.parse(text)).toBeTruthy();
    expect(findTooDeep(bytes(text), 1)).toBeUndefined();
    // An escaped backslash ends before the quote: the string closes, and the bracket after it counts.
    expect(findTooDeep(bytes('{"a":"\\\\","b":[[1]]}'), 2)).toEqual({ key: "b" });
    // Escapes of every kind, \u included, never end a string early.
    expect(findTooDeep(bytes('{"a":"\\"[[[\\u005b\\n","b":1}'), 1)).toBeUndefined();
  });

  it("is not fooled by multi-byte UTF-8 in strings and keys", () => {
    expect(findTooDeep(bytes('{"é😀[":"[😀]","x":[1]}'), 2)).toBeUndefined();
    expect(findTooDeep(bytes('{"é😀":[[1]]}'), 2)).toEqual({ key: "é😀" });
  });

  it("agrees with JSON.parse's own nesting on random documents", () => {
    const depthOf = (value: unknown): number =>
      value !== null && typeof value === "object"
        ? 1 + Math.max(0, ...Object.values(value as object).map(depthOf))
        : 0;
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const build = (level: number): unknown => {
      const r = random();
      if (level > 6 || r < 0.3) return ['"]\\', "[{", "\\\\", 1, null, "é"][Math.floor(random() * 6)];
      const children = Array.from({ length: Math.floor(random() * 3) + 1 }, () => build(level + 1));
      return r < 0.65 ? children : Object.fromEntries(children.map((c, i) => [`k${i}"[`, c]));
    };
    for (let i = 0; i < 500; i++) {
      const value = build(0);
      const depth = depthOf(value);
      const text = bytes(JSON.stringify(value));
      expect(findTooDeep(text, depth)).toBeUndefined();
      if (depth > 0) expect(findTooDeep(text, depth - 1)).toBeDefined();
    }
  });

  it("stops at the first byte past the limit, so an 8 MB bomb costs its prefix", () => {
    const bomb = bytes(`{"firmId":"a","requests":${"[".repeat(4_000_000)}${"]".repeat(4_000_000)}}`);
    const started = performance.now();
    expect(findTooDeep(bomb, 3)).toEqual({ key: "requests" });
    expect(performance.now() - started).toBeLessThan(50);
  });
});

describe("depthCheckingDecoder", () => {
  it("refuses too deep text with INVALID_ARGUMENT and a BadRequest naming the key, and decodes the rest", () => {
    const decoder = depthCheckingDecoder(BatchUpsertContactsRequestSchema, new TextDecoder());
    expect(decoder.decode(bytes('{"requests":[{}]}'))).toBe('{"requests":[{}]}');
    let thrown: unknown;
    try {
      decoder.decode(bytes('{"requests":[[[]]]}'));
    } catch (error) {
      thrown = error;
    }
    const error = thrown as ConnectError;
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toMatch(/^requests: nested deeper than 3 levels/);
    expect(error.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe("requests");
  });
});

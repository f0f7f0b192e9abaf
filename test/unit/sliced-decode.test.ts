import { create, equals, fromBinary, fromJsonString, toBinary, toJsonString } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { BatchUpsertContactsRequestSchema } from "../../gen/contacts/v1/contact_service_pb.js";
import { decodeInSlices, type SliceOptions } from "../../src/rpc/sliced-decode.js";

const OPTIONS: SliceOptions = {
  readMaxBytes: 64 * 1024 * 1024,
  json: { ignoreUnknownFields: false },
  decoder: new TextDecoder("utf-8", { fatal: true }),
};
const bytes = (text: string) => new TextEncoder().encode(text);
const sliced = (format: "json" | "binary", input: Uint8Array) =>
  decodeInSlices(BatchUpsertContactsRequestSchema, format, input, OPTIONS, new AbortController().signal);
/** What connect-es's own serialization makes of the same JSON: the message, or the error's message. */
function whole(text: string) {
  try {
    return fromJsonString(BatchUpsertContactsRequestSchema, text, OPTIONS.json);
  } catch (error) {
    return ConnectError.from(error).rawMessage;
  }
}
async function slicedOrError(text: string) {
  try {
    return await sliced("json", bytes(text));
  } catch (error) {
    return (error as ConnectError).rawMessage;
  }
}

const batch = create(BatchUpsertContactsRequestSchema, {
  firmId: "acme",
  allOrNone: true,
  requestId: "r-1",
  requests: Array.from({ length: 300 }, (_, i) => ({
    email: `p${i}@example.com`,
    firstName: `Ann ${i} "[{\\`,
    lastName: "Ünïcødé 😀",
    note: i % 7 === 0 ? "x".repeat(20_000) : undefined,
    trackingId: i % 3 === 0 ? `t-${i}` : undefined,
  })),
});

describe("decodeInSlices decodes a batch exactly as decoding it whole would", () => {
  it("gives the same message from JSON, in any spelling, and from binary", async () => {
    const json = toJsonString(BatchUpsertContactsRequestSchema, batch);
    for (const text of [
      json,
      toJsonString(BatchUpsertContactsRequestSchema, batch, { prettySpaces: 2 }),
      // Fields after the list, and the proto name of the list.
      JSON.stringify({
        requests: JSON.parse(json).requests,
        firmId: "acme",
        allOrNone: true,
        requestId: "r-1",
      }),
      json.replace('"requests"', '"requests"'),
    ]) {
      expect(
        equals(BatchUpsertContactsRequestSchema, (await sliced("json", bytes(text))) as never, batch),
      ).toBe(true);
    }
    const binary = toBinary(BatchUpsertContactsRequestSchema, batch);
    expect(equals(BatchUpsertContactsRequestSchema, (await sliced("binary", binary)) as never, batch)).toBe(
      true,
    );
    expect(
      equals(BatchUpsertContactsRequestSchema, fromBinary(BatchUpsertContactsRequestSchema, binary), batch),
    ).toBe(true);
  });

  it("decodes forms it does not slice (null, an escaped key, two lists, empty) in one piece, with the same result", async () => {
    for (const text of [
      '{"firmId":"a","requests":null}',
      '{"firmId":"a","requests":[]}',
      '{"firmId":"a","req\\u0075ests":[{"email":"e@example.com"}]}',
      '{"firmId":"a","requests":[{"email":"a@example.com"}],"requests":[{"email":"b@example.com"}]}',
      '{"firmId":"a","requests":[null]}',
      '{"firmId":"a","requests":[1]}',
      '{"firmId":"a","requests":["x"]}',
      '{"firmId":"a","requests":[{"email":"a@example.com"},]}',
      '{"firmId":"a","requests":[,{"email":"a@example.com"}]}',
      '{"firmId":"a","requests":[{"email":"a@example.com"},,{"email":"b@example.com"}]}',
      '{"firmId":"a","requests":[{"email":"a@example.com"}[]]}',
      "{}",
    ]) {
      const expected = whole(text);
      const actual = await slicedOrError(text);
      if (typeof expected === "string") expect(actual).toBe(expected);
      else expect(equals(BatchUpsertContactsRequestSchema, actual as never, expected)).toBe(true);
    }
  });

  it("refuses bad items with connect-es's own messages", async () => {
    for (const text of [
      '{"firmId":"a","requests":[{"email":"a@example.com"},{"email":42}]}',
      '{"firmId":"a","requests":[{"email":"a@example.com"},{"firstname":"x"}]}',
      '{"firmId":"a","requests":[{"email":"a@example.com"} {"email":"b@example.com"}]}',
      '{"firmId":7,"requests":[{"email":"a@example.com"}]}',
      '{"firmId":"a","requests":[{"email":"a@example.com"}]',
    ]) {
      const expected = whole(text);
      expect(typeof expected).toBe("string");
      const actual = await slicedOrError(text);
      expect(typeof actual).toBe("string");
      // JSON.parse words a syntax error by its position, which differs when an item is parsed alone.
      if (!/JSON/.test(expected as string)) expect(actual).toBe(expected);
    }
    await expect(sliced("binary", new Uint8Array([0x12, 0x05, 0x1a]))).rejects.toThrow(/parse binary/);
  });

  it("gives the event loop a turn while it decodes a large batch", async () => {
    const large = bytes(toJsonString(BatchUpsertContactsRequestSchema, batch));
    let turns = 0;
    const timer = setInterval(() => turns++, 0);
    await sliced("json", large);
    clearInterval(timer);
    expect(turns).toBeGreaterThan(0);
  });
});

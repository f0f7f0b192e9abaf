import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { validateList } from "../../src/contacts/list-contacts.js";
import { readPageToken, type TokenScope, writePageToken } from "../../src/contacts/page-token.js";

const key = randomBytes(32);
const scope: TokenScope = { firmId: "firm-1", updatedAfterMs: 1_700_000_000_123, showDeleted: false };
const cursor = { time: new Date("2026-01-01T00:00:00.456Z"), id: "019ac8f0-0000-7000-8000-000000000001" };

describe("page tokens", () => {
  it("round-trip the cursor for the scope and key they were issued for", () => {
    const token = writePageToken(key, scope, cursor);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(readPageToken(key, scope, token)).toEqual(cursor);
  });

  it("fail for another key, firm, updated_after or show_deleted", () => {
    const token = writePageToken(key, scope, cursor);
    expect(readPageToken(randomBytes(32), scope, token)).toBeUndefined();
    expect(readPageToken(key, { ...scope, firmId: "firm-2" }, token)).toBeUndefined();
    expect(readPageToken(key, { ...scope, updatedAfterMs: null }, token)).toBeUndefined();
    expect(readPageToken(key, { ...scope, updatedAfterMs: 1_700_000_000_124 }, token)).toBeUndefined();
    expect(readPageToken(key, { ...scope, showDeleted: true }, token)).toBeUndefined();
  });

  it("fail when any byte is altered, or the token is cut, padded or not base64url", () => {
    const token = writePageToken(key, scope, cursor);
    const bytes = Buffer.from(token, "base64url");
    for (let i = 0; i < bytes.length; i++) {
      const altered = Buffer.from(bytes);
      altered[i] = (altered[i] ?? 0) ^ 1;
      expect(readPageToken(key, scope, altered.toString("base64url"))).toBeUndefined();
    }
    for (const bad of [token.slice(0, -2), `${token}AA`, `${token}=`, "", "!!!!", "a".repeat(10_000)]) {
      expect(readPageToken(key, scope, bad)).toBeUndefined();
    }
  });
});

describe("validateList", () => {
  const raw = {
    firmId: " firm-1 ",
    pageSize: 0,
    pageToken: "",
    updatedAfter: undefined,
    showDeleted: false,
    filter: "",
    orderBy: "",
  };

  it.each([
    [0, 100],
    [1, 1],
    [1000, 1000],
    [1001, 1000],
    [2_147_483_647, 1000],
  ])("page_size %i reads as %i", (pageSize, expected) => {
    expect(validateList({ ...raw, pageSize }, key).pageSize).toBe(expected);
  });

  it("starts strictly after updated_after rounded down to the millisecond, else at the beginning", () => {
    expect(validateList(raw, key).start).toBeNull();
    const { start, scope: s } = validateList(
      { ...raw, updatedAfter: { seconds: 1_700_000_000n, nanos: 123_999_999 } },
      key,
    );
    expect(start).toEqual({ time: new Date(1_700_000_000_123), id: null });
    expect(s).toEqual({
      firmId: "firm-1",
      updatedAfterMs: 1_700_000_000_123,
      showDeleted: false,
      filter: "",
      descending: false,
    });
  });

  it("continues after a token's cursor", () => {
    const token = writePageToken(key, { firmId: "firm-1", updatedAfterMs: null, showDeleted: false }, cursor);
    expect(validateList({ ...raw, pageToken: token }, key).start).toEqual(cursor);
  });

  it.each([
    ["a negative page size", { pageSize: -1 }, ["pageSize"]],
    ["no firm", { firmId: "" }, ["firmId"]],
    ["a forged token", { pageToken: "forged" }, ["pageToken"]],
    ["a time after 9999", { updatedAfter: { seconds: 253_402_300_800, nanos: 0 } }, ["updatedAfter"]],
    ["negative nanos", { updatedAfter: { seconds: 0, nanos: -1 } }, ["updatedAfter"]],
    ["an unsupported filter", { filter: 'city = "Oslo"' }, ["filter"]],
    ["a filter with showDeleted", { filter: 'name = "a*"', showDeleted: true }, ["filter"]],
    ["an unsupported order", { orderBy: "email" }, ["orderBy"]],
  ])("%s is a violation naming %j", (_, given, fields) => {
    const change =
      "updatedAfter" in given
        ? { updatedAfter: { ...given.updatedAfter, seconds: BigInt(given.updatedAfter.seconds) } }
        : given;
    expect(() => validateList({ ...raw, ...change }, key)).toThrow(
      expect.objectContaining({ violations: fields.map((field) => expect.objectContaining({ field })) }),
    );
  });
});

describe("validateList with filter and order", () => {
  const raw = {
    firmId: "firm-1",
    pageSize: 0,
    pageToken: "",
    updatedAfter: undefined,
    showDeleted: false,
    filter: "",
    orderBy: "",
  };

  it("newest first keeps updated_after as a lower bound and starts at the top", () => {
    const listed = validateList(
      { ...raw, orderBy: "update_time desc", updatedAfter: { seconds: 1_700_000_000n, nanos: 0 } },
      key,
    );
    expect(listed).toMatchObject({ start: null, order: "desc", since: new Date(1_700_000_000_000) });
  });

  it("binds the token to the filter and the order: another filter or order refuses it", () => {
    const listed = validateList({ ...raw, filter: 'name = "ann*"', orderBy: "update_time desc" }, key);
    const token = writePageToken(key, listed.scope, cursor);
    const same = { ...raw, filter: 'name="ann*"', orderBy: "update_time  DESC", pageToken: token };
    expect(validateList(same, key).start).toEqual(cursor);
    for (const other of [
      { filter: 'name = "ann"' },
      { filter: 'name = "anna*"' },
      { filter: "" },
      { orderBy: "" },
      { orderBy: "update_time" },
    ]) {
      expect(() => validateList({ ...same, ...other }, key)).toThrow(
        expect.objectContaining({ violations: [expect.objectContaining({ field: "pageToken" })] }),
      );
    }
  });

  it("a plain listing's token is the same with and without the new scope fields", () => {
    const plain = { firmId: "firm-1", updatedAfterMs: null, showDeleted: false };
    const token = writePageToken(key, plain, cursor);
    expect(readPageToken(key, { ...plain, filter: "", descending: false }, token)).toEqual(cursor);
  });
});

import { describe, expect, it } from "vitest";
import {
  canonicalFilter,
  FILTER_MAX_CHARS,
  parseFilter,
  parseOrder,
} from "../../src/contacts/list-filter.js";

describe("parseFilter", () => {
  it.each([
    ["", null],
    ["   ", null],
    ['email = "Ann@Example.com"', { kind: "email", email: "Ann@Example.com" }],
    ['email="a@x"', { kind: "email", email: "a@x" }],
    ['tracking_id = "crm-42"', { kind: "trackingId", trackingId: "crm-42" }],
    ['trackingId = "crm-42"', { kind: "trackingId", trackingId: "crm-42" }],
    ['name = "ann*"', { kind: "name", text: "ann", prefix: true }],
    ['  name  =  "Ann"  ', { kind: "name", text: "Ann", prefix: false }],
    ['name = "O\\"Neil*"', { kind: "name", text: 'O"Neil', prefix: true }],
    ['name = "back\\\\slash"', { kind: "name", text: "back\\slash", prefix: false }],
  ])("%j parses", (raw, expected) => {
    expect(parseFilter(raw)).toEqual({ ok: true, value: expected });
  });

  it.each([
    'city = "Oslo"',
    'name = "a" AND email = "b"',
    'name != "a"',
    "name = ann",
    'name = "a',
    'name = "a"b"',
    'name = "*"',
    'name = "a*b"',
    'name = "*a"',
    'name = "a\u0007"',
    'email = "\\x"',
    `name = "${"a".repeat(201)}"`,
    `email = "${"a".repeat(FILTER_MAX_CHARS)}"`,
  ])("%j is refused with a reason", (raw) => {
    const parsed = parseFilter(raw);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problem.length).toBeGreaterThan(5);
  });

  it(`accepts ${FILTER_MAX_CHARS} characters and refuses one more`, () => {
    const at = `email = "${"a".repeat(FILTER_MAX_CHARS - 10)}"`;
    expect(at.length).toBe(FILTER_MAX_CHARS);
    expect(parseFilter(at).ok).toBe(true);
    const over = parseFilter(`email = "${"a".repeat(FILTER_MAX_CHARS - 9)}"`);
    expect(over).toEqual({ ok: false, problem: `must be at most ${FILTER_MAX_CHARS} characters` });
  });

  it("canonical forms differ between kinds, prefix and exact", () => {
    const forms = ['name = "a*"', 'name = "a"', 'email = "a"', 'tracking_id = "a"', ""].map((raw) => {
      const parsed = parseFilter(raw);
      return parsed.ok ? canonicalFilter(parsed.value) : "bad";
    });
    expect(new Set(forms).size).toBe(forms.length);
  });
});

describe("parseOrder", () => {
  it.each([
    ["", "asc"],
    ["update_time", "asc"],
    ["update_time asc", "asc"],
    ["update_time desc", "desc"],
    [" updateTime  DESC ", "desc"],
  ])("%j is %s", (raw, expected) => {
    expect(parseOrder(raw)).toEqual({ ok: true, value: expected });
  });

  it.each(["email", "update_time down", "update_time desc, id", "create_time desc"])(
    "%j is refused",
    (raw) => {
      expect(parseOrder(raw).ok).toBe(false);
    },
  );
});

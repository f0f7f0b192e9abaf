import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { newContactId } from "../../src/contacts/contact-id.js";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const MAX_MILLIS = 2 ** 48 - 1;

/** The creation time a UUID v7 carries in its leading 48 bits. */
function millisOf(id: string): number {
  return Number.parseInt(id.replaceAll("-", "").slice(0, 12), 16);
}

describe("newContactId", () => {
  it("is a lower-case UUID version 7 with the RFC 9562 variant", () => {
    for (let i = 0; i < 1_000; i++) expect(newContactId()).toMatch(UUID_V7);
  });

  it("carries the current time in milliseconds when none is given", () => {
    const before = Date.now();
    const id = newContactId();
    const after = Date.now();
    expect(millisOf(id)).toBeGreaterThanOrEqual(before);
    expect(millisOf(id)).toBeLessThanOrEqual(after);
  });

  it("carries the given time in its leading 48 bits, from the epoch to the last representable millisecond", () => {
    expect(newContactId(0).startsWith("00000000-0000-7")).toBe(true);
    expect(newContactId(MAX_MILLIS).startsWith("ffffffff-ffff-7")).toBe(true);
    expect(millisOf(newContactId(Date.UTC(2024, 0, 1)))).toBe(Date.UTC(2024, 0, 1));
  });

  it("sorts as text in the order of its creation times", () => {
    const time = fc.integer({ min: 0, max: MAX_MILLIS });
    fc.assert(
      fc.property(time, time, (a, b) => {
        fc.pre(a !== b);
        const [earlier, later] = a < b ? [a, b] : [b, a];
        const [first, second] = [newContactId(earlier), newContactId(later)];
        expect(first < second).toBe(true);
        expect(first).toMatch(UUID_V7);
        expect(millisOf(first)).toBe(earlier);
      }),
    );
  });

  it("ids made one millisecond apart sort in time order", () => {
    const start = Date.UTC(2025, 5, 1);
    const ids = Array.from({ length: 100 }, (_, i) => newContactId(start + i));
    expect([...ids].sort()).toEqual(ids);
  });

  it("ids made in the same millisecond are still distinct", () => {
    const ids = Array.from({ length: 10_000 }, () => newContactId(1_700_000_000_000));
    expect(new Set(ids).size).toBe(ids.length);
  });
});

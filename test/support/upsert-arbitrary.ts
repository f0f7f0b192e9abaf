import fc from "fast-check";
import type { UpsertInit } from "./clients.js";

// Random upserts over a small key space, so that items collide on tracking ids and on emails in other letter
// cases, with invalid and conflicting ones among them; shared by the equivalence tests.

const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });
/** One upsert, without its firm. */
export const item: fc.Arbitrary<UpsertInit> = fc
  .record({
    trackingId: maybe(fc.constantFrom("T1", "T2", "T3", " T1 ")),
    email: maybe(
      fc.constantFrom(
        "a@x.com",
        "A@X.COM",
        "b@x.com",
        " B@x.com ",
        "josé@x.com",
        "JOSÉ@x.com",
        "jose@x.com",
        "not-an-email",
      ),
    ),
    firstName: maybe(fc.constantFrom("Ann", "Bob", "")),
    lastName: maybe(fc.constantFrom("Lee", "Ray")),
    city: maybe(fc.constantFrom("Lyon", "Rome", "")),
    phone: maybe(fc.constantFrom("+1 555", "+33 1")),
  })
  .map((fields) => Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)));

/** Names contact ids by the order in which they first appear, so two firms' answers can be compared. */
export function aliases() {
  const names = new Map<string, string>();
  return (id: string | undefined) => {
    if (id === undefined) return undefined;
    if (!names.has(id)) names.set(id, `contact-${names.size + 1}`);
    return names.get(id);
  };
}

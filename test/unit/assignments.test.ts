import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  compareCodePoints,
  decideAssignment,
  MAX_ASSIGNMENTS_PER_KIND,
  validateAssignment,
} from "../../src/contacts/assignments.js";
import type { Contact } from "../../src/contacts/contact.js";

const contact = (clientIds: string[], investmentEntityIds: string[] = []): Contact =>
  ({ id: "c", firmId: "f", clientIds, investmentEntityIds }) as unknown as Contact;
const input = (clientIds: string[], investmentEntityIds: string[] = []) => ({
  firmId: "f",
  contactId: "c",
  clientIds,
  investmentEntityIds,
});

describe("validateAssignment", () => {
  it("trims, collapses duplicates and sorts by code point", () => {
    expect(validateAssignment(input([" b", "a ", "b", "\u{1F600}", "\uFF21"], ["x", "x"]))).toEqual({
      kind: "valid",
      input: {
        firmId: "f",
        contactId: "c",
        clientIds: ["a", "b", "\uFF21", "\u{1F600}"],
        investmentEntityIds: ["x"],
      },
    });
  });

  it("names every bad id by its index", () => {
    const result = validateAssignment({
      firmId: "f",
      contactId: " ",
      clientIds: ["ok", "", "a\tb", "\uD800"],
      investmentEntityIds: ["é".repeat(64), "é".repeat(65)],
    });
    expect(result.kind === "invalid" && result.violations).toEqual([
      { field: "contactId", description: "is required" },
      { field: "clientIds[1]", description: "must not be empty" },
      { field: "clientIds[2]", description: "must not contain control characters or line breaks" },
      { field: "clientIds[3]", description: "is not valid Unicode text" },
      { field: "investmentEntityIds[1]", description: "must be at most 64 characters" },
    ]);
  });
});

describe("decideAssignment", () => {
  it("assign adds only what is missing; unassign removes only what is there", () => {
    const stored = contact(["a", "c"], ["x"]);
    expect(decideAssignment(stored, input(["b", "c"]), "assign")).toEqual({
      kind: "change",
      change: {
        add: { clientIds: ["b"], investmentEntityIds: [] },
        remove: { clientIds: [], investmentEntityIds: [] },
      },
      contact: { ...stored, clientIds: ["a", "b", "c"], investmentEntityIds: ["x"] },
    });
    expect(decideAssignment(stored, input(["c", "z"], ["x"]), "unassign")).toMatchObject({
      kind: "change",
      change: { add: { clientIds: [] }, remove: { clientIds: ["c"], investmentEntityIds: ["x"] } },
      contact: { clientIds: ["a"], investmentEntityIds: [] },
    });
  });

  it("assigning what is there, removing what is absent, or an empty request is unchanged", () => {
    const stored = contact(["a"], ["x"]);
    expect(decideAssignment(stored, input(["a"], ["x"]), "assign")).toEqual({ kind: "unchanged" });
    expect(decideAssignment(stored, input(["b"], ["y"]), "unassign")).toEqual({ kind: "unchanged" });
    expect(decideAssignment(stored, input([]), "assign")).toEqual({ kind: "unchanged" });
  });

  it("more than the limit of one kind is over_limit; exactly the limit is fine", () => {
    const ids = (n: number, prefix = "id") => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
    const stored = contact(ids(MAX_ASSIGNMENTS_PER_KIND - 1), ids(MAX_ASSIGNMENTS_PER_KIND));
    expect(decideAssignment(stored, input(["new"]), "assign").kind).toBe("change");
    expect(decideAssignment(stored, input(["new", "newer"]), "assign")).toEqual({
      kind: "over_limit",
      field: "clientIds",
      count: MAX_ASSIGNMENTS_PER_KIND + 1,
    });
    expect(decideAssignment(stored, input([], ["more"]), "assign")).toMatchObject({
      field: "investmentEntityIds",
    });
  });

  it("property: assign then unassign of the same ids restores the lists; results stay sorted and distinct", () => {
    const id = fc.string({ minLength: 1, maxLength: 4, unit: "grapheme" });
    fc.assert(
      fc.property(
        fc.uniqueArray(id, { maxLength: 20 }),
        fc.uniqueArray(id, { maxLength: 20 }),
        (held, given) => {
          const sortedHeld = [...held].sort(compareCodePoints);
          const stored = contact(sortedHeld);
          const request = input([...given].sort(compareCodePoints));
          const assigned = decideAssignment(stored, request, "assign");
          const after = assigned.kind === "change" ? assigned.contact : stored;
          expect([...after.clientIds]).toEqual([...new Set([...held, ...given])].sort(compareCodePoints));
          const fresh = given.filter((g) => !held.includes(g));
          const undone = decideAssignment(after, input([...fresh].sort(compareCodePoints)), "unassign");
          expect(undone.kind === "change" ? undone.contact.clientIds : after.clientIds).toEqual(sortedHeld);
        },
      ),
    );
  });
});

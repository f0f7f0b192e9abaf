import { describe, expect, it } from "vitest";
import { type BatchItemResult, MAX_BATCH_ITEMS } from "../../src/contacts/batch-types.js";
import type { Contact } from "../../src/contacts/contact.js";
import { BatchAbortedError, ConflictError, ValidationError } from "../../src/contacts/errors.js";
import { OPTIONAL_FIELDS } from "../../src/contacts/fields.js";
import {
  batchKeys,
  planBatchUpsert,
  validateBatch,
  validateBatchItems,
} from "../../src/contacts/plan-batch-upsert.js";
import type { RawUpsertRequest } from "../../src/contacts/validate-upsert.js";

const FIRM = "firm-1";
const T0 = new Date("2024-01-01T00:00:00Z");

function stored(overrides: Partial<Contact> & Pick<Contact, "id" | "email">): Contact {
  const empty = Object.fromEntries(OPTIONAL_FIELDS.map((field) => [field, null]));
  return {
    firmId: FIRM,
    trackingId: null,
    firstName: "First",
    lastName: "Last",
    createTime: T0,
    updateTime: T0,
    clientIds: ["client-1"],
    investmentEntityIds: [],
    ...empty,
    ...overrides,
  } as Contact;
}

const A = stored({ id: "id-a", trackingId: "T-A", email: "ada@example.com" });
const B = stored({ id: "id-b", email: "bob@example.com" });
const names = { firstName: "New", lastName: "Person" };

function plan(items: Partial<RawUpsertRequest>[], rows: Contact[] = [A, B], allOrNone = false) {
  let n = 0;
  const validations = validateBatchItems(
    FIRM,
    items.map((item) => ({ firmId: "", ...item })),
  );
  return planBatchUpsert(validations, rows, { allOrNone, newId: () => `new-${++n}` });
}

/** A compact view of a result: "created new-1", "updated id-a by email", "INVALID firmId,email", ... */
function summary(result: BatchItemResult): string {
  if (result.kind === "done") {
    const { outcome } = result;
    return outcome.result === "created"
      ? `created ${outcome.contact.id}`
      : `updated ${outcome.contact.id} by ${outcome.matchedBy}`;
  }
  const { error } = result;
  if (error instanceof ValidationError) return `invalid ${error.violations.map((v) => v.field).join(",")}`;
  if (error instanceof ConflictError) return `taken by ${error.conflictingContactId}`;
  if (error instanceof BatchAbortedError) return "aborted";
  return "?";
}

describe("planBatchUpsert: items see the earlier items' effects, as if sent one by one", () => {
  const table: [string, Partial<RawUpsertRequest>[], string[]][] = [
    [
      "an item that creates a tracking id lets a later item update it",
      [
        { trackingId: "T-1", email: "one@example.com", ...names },
        { trackingId: "T-1", city: "Lyon" },
      ],
      ["created new-1", "updated new-1 by trackingId"],
    ],
    [
      "a later item matching by email sees an earlier item's create, ignoring letter case",
      [{ trackingId: "T-1", email: "one@example.com", ...names }, { email: "ONE@example.com" }],
      ["created new-1", "updated new-1 by email"],
    ],
    [
      "a new tracking id with an email created earlier in the batch is a conflict naming that contact",
      [
        { email: "one@example.com", ...names },
        { trackingId: "T-2", email: "One@Example.com", ...names },
      ],
      ["created new-1", "taken by new-1"],
    ],
    [
      "stored contacts match by tracking id first, then by email",
      [{ trackingId: "T-A", email: "bob@example.com" }, { email: "BOB@example.com" }],
      ["updated id-a by trackingId", "updated id-b by email"],
    ],
    [
      "a failing item does not stop the others",
      [{ trackingId: "T-9" }, { email: "not an email" }, { email: "new@example.com", ...names }],
      ["invalid email,firstName,lastName", "invalid email", "created new-1"],
    ],
    [
      "an item's own firmId must be empty or the batch's",
      [
        { firmId: "other", email: "x@example.com", ...names },
        { firmId: ` ${FIRM} `, email: "y@example.com", ...names },
      ],
      ["invalid firmId", "created new-1"],
    ],
    [
      "an item without any key is rejected like a single call",
      [{ firstName: "Only" }],
      ["invalid trackingId,email"],
    ],
    [
      "a create missing required fields is rejected naming them",
      [{ trackingId: "T-3", email: "z@example.com" }],
      ["invalid firstName,lastName"],
    ],
  ];

  it.each(table)("%s", (_, items, expected) => {
    expect(plan(items).results.map(summary)).toEqual(expected);
  });

  it("writes each contact once in its final state: a created then updated contact is one insert", () => {
    const { writes, results } = plan([
      { trackingId: "T-1", email: "one@example.com", ...names, city: "Lyon" },
      { trackingId: "T-1", city: "Paris", phone: "1" },
      { trackingId: "T-A", city: "Rome" },
      { email: "ada@example.com", phone: "2" },
    ]);
    expect(writes.inserts).toHaveLength(1);
    expect(writes.inserts[0]).toMatchObject({ id: "new-1", city: "Paris", phone: "1" });
    expect(writes.updates).toEqual([
      {
        contact: expect.objectContaining({ id: "id-a", city: "Rome", phone: "2" }),
        changed: ["phone", "city"],
      },
    ]);
    // Each item reports what it changed, like a single call would.
    expect(results.map((r) => (r.kind === "done" ? r.outcome.changed : []))).toEqual([
      ["trackingId", "email", "firstName", "lastName", "city"],
      ["phone", "city"],
      ["city"],
      ["phone"],
    ]);
  });

  it("marks which contacts the commit's tick stamps: created or changed by the batch, by this item or an earlier one", () => {
    const { results } = plan([
      { trackingId: "T-1", email: "one@example.com", ...names },
      { trackingId: "T-1" },
      { trackingId: "T-A", city: "Rome" },
      { email: "ada@example.com" },
      { email: "bob@example.com" },
    ]);
    expect(results.map((r) => (r.kind === "done" ? r.stamp : "failed"))).toEqual([
      "created",
      "created",
      "updated",
      "updated",
      null,
    ]);
    // Assignments are kept as read: upsert never touches them.
    const ada = results[2];
    expect(ada?.kind === "done" && ada.outcome.contact.clientIds).toEqual(["client-1"]);
  });

  it("an item that changes nothing writes nothing and keeps updateTime", () => {
    const { writes, results } = plan([{ trackingId: "T-A", firstName: "First" }]);
    expect(writes).toEqual({ inserts: [], updates: [] });
    expect(results[0]).toMatchObject({ kind: "done", outcome: { result: "updated", changed: [] } });
    expect(results[0]?.kind === "done" && results[0].outcome.contact.updateTime).toEqual(T0);
  });

  it("with allOrNone, one failure writes nothing and every other item is ABORTED", () => {
    const { writes, results } = plan(
      [{ email: "new@example.com", ...names }, { email: "bad" }, { trackingId: "T-A", city: "X" }],
      [A, B],
      true,
    );
    expect(results.map(summary)).toEqual(["aborted", "invalid email", "aborted"]);
    expect(writes).toEqual({ inserts: [], updates: [] });
  });

  it("a conflict names a holder created by an earlier item by its index when nothing is written, by its id otherwise", () => {
    const items = [
      { trackingId: "T-1", email: "one@example.com", ...names },
      { trackingId: "T-2", email: "ONE@example.com", ...names },
      { trackingId: "T-3", email: "bob@example.com", ...names },
    ];
    const holders = (results: readonly BatchItemResult[]) =>
      results.map((r) =>
        r.kind === "failed" && r.error instanceof ConflictError
          ? [r.error.conflictingContactId, r.error.conflictingItemIndex]
          : undefined,
      );
    // Written: the holder exists after the call; a stored holder is named by id whatever the mode.
    expect(holders(plan(items).results)).toEqual([undefined, ["new-1", undefined], ["id-b", undefined]]);
    // allOrNone with a failure writes nothing: new-1 will not exist, so its item is named.
    expect(holders(plan(items, [A, B], true).results)).toEqual([
      undefined,
      [undefined, 0],
      ["id-b", undefined],
    ]);
    const validations = validateBatchItems(
      FIRM,
      items.map((item) => ({ firmId: "", ...item })),
    );
    const preview = planBatchUpsert(validations, [A, B], {
      allOrNone: false,
      newId: () => "new-1",
      dryRun: true,
    });
    expect(holders(preview.results)).toEqual([undefined, [undefined, 0], ["id-b", undefined]]);
    expect(preview.writes).toEqual({ inserts: [], updates: [] });
  });

  it("with allOrNone and no failure, everything is written", () => {
    const { writes, results } = plan([{ email: "new@example.com", ...names }], [], true);
    expect(results.map(summary)).toEqual(["created new-1"]);
    expect(writes.inserts).toHaveLength(1);
  });
});

describe("validateBatch and batchKeys", () => {
  it("accepts 1 to 1000 items and names `requests` otherwise", () => {
    const item = { firmId: "" };
    expect(validateBatch({ firmId: " f ", items: [item], allOrNone: false })).toBe("f");
    for (const n of [0, MAX_BATCH_ITEMS + 1]) {
      expect(() => validateBatch({ firmId: "f", items: Array(n).fill(item), allOrNone: false })).toThrow(
        /^requests: must hold 1 to 1000 items/,
      );
    }
    expect(() =>
      validateBatch({ firmId: "f", items: Array(MAX_BATCH_ITEMS).fill(item), allOrNone: false }),
    ).not.toThrow();
  });

  it("names `firmId` when the batch's firm is missing", () => {
    expect(() => validateBatch({ firmId: "  ", items: [{ firmId: "" }], allOrNone: false })).toThrow(
      /^firmId: is required/,
    );
  });

  it("reads each key once, emails compared ignoring letter case, invalid items left out", () => {
    const validations = validateBatchItems(FIRM, [
      { firmId: "", trackingId: "T-1", email: "a@example.com" },
      { firmId: "", trackingId: "T-1", email: "A@EXAMPLE.com" },
      { firmId: "", email: "bad" },
    ]);
    expect(batchKeys(validations)).toEqual({ trackingIds: ["T-1"], emails: ["a@example.com"] });
  });
});

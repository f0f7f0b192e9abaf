import { describe, expect, it } from "vitest";
import { batchUpsertContacts } from "../../src/contacts/batch-upsert.js";
import type { Contact } from "../../src/contacts/contact.js";
import type { ContactStore, Transact } from "../../src/contacts/contact-store.js";
import { OPTIONAL_FIELDS } from "../../src/contacts/fields.js";
import { assignmentEntry, batchEntries, createdEntry, updatedEntry } from "../../src/contacts/history.js";
import type { HistoryEntry } from "../../src/contacts/history-entry.js";
import { validateChanges } from "../../src/contacts/list-contact-changes.js";
import { planBatchUpsert, validateBatchItems } from "../../src/contacts/plan-batch-upsert.js";
import { updateContact } from "../../src/contacts/update-contact.js";
import { upsertContact } from "../../src/contacts/upsert-contact.js";
import type { RawUpsertRequest } from "../../src/contacts/validate-upsert.js";
import { commitTrips, type Queued } from "../../src/db/commit-trips.js";

const T0 = new Date("2024-01-01T00:00:00Z");
const contact = (overrides: Partial<Contact>): Contact =>
  ({
    id: "id-a",
    firmId: "f",
    trackingId: null,
    email: "a@example.com",
    firstName: "A",
    lastName: "B",
    createTime: T0,
    updateTime: T0,
    clientIds: [],
    investmentEntityIds: [],
    ...Object.fromEntries(OPTIONAL_FIELDS.map((field) => [field, null])),
    ...overrides,
  }) as Contact;

describe("history entries", () => {
  it("a create lists every field with a value, by proto name, as new values only", () => {
    expect(createdEntry(contact({ trackingId: "T", numberAndStreet: "1 Main St" }))).toEqual({
      contactId: "id-a",
      kind: "created",
      fields: [
        { field: "tracking_id", oldValue: null, newValue: "T" },
        { field: "email", oldValue: null, newValue: "a@example.com" },
        { field: "first_name", oldValue: null, newValue: "A" },
        { field: "last_name", oldValue: null, newValue: "B" },
        { field: "number_and_street", oldValue: null, newValue: "1 Main St" },
      ],
    });
  });

  it("an update lists the changed fields only, old and new, null for no value", () => {
    const before = contact({ city: "Oslo", zipCode: "0150" });
    const after = contact({ city: null, zipCode: "0151", phone: "+1" });
    expect(updatedEntry(before, after, ["zipCode", "city"]).fields).toEqual([
      { field: "zip_code", oldValue: "0150", newValue: "0151" },
      { field: "city", oldValue: "Oslo", newValue: null },
    ]);
  });

  it("an assignment lists one field change per id, added as new values, removed as old values", () => {
    const none = { clientIds: [], investmentEntityIds: [] };
    expect(
      assignmentEntry("id-a", {
        add: { clientIds: ["c1", "c2"], investmentEntityIds: ["e1"] },
        remove: none,
      }),
    ).toEqual({
      contactId: "id-a",
      kind: "assigned",
      fields: [
        { field: "client_ids", oldValue: null, newValue: "c1" },
        { field: "client_ids", oldValue: null, newValue: "c2" },
        { field: "investment_entity_ids", oldValue: null, newValue: "e1" },
      ],
    });
    expect(assignmentEntry("id-a", { add: none, remove: { ...none, investmentEntityIds: ["e1"] } })).toEqual({
      contactId: "id-a",
      kind: "unassigned",
      fields: [{ field: "investment_entity_ids", oldValue: "e1", newValue: null }],
    });
  });

  it("a batch records each item that wrote, its old values as the earlier items left them", () => {
    const stored = contact({ trackingId: "K", city: "Oslo" });
    const items: Partial<RawUpsertRequest>[] = [
      { trackingId: "K", city: "Rome" },
      { trackingId: "K", city: "Rome" },
      { trackingId: "N", email: "n@example.com", firstName: "N", lastName: "M" },
      { email: "bad" },
      { trackingId: "N", city: "Lyon" },
      { trackingId: "K", city: "Paris" },
    ];
    const validations = validateBatchItems(
      "f",
      items.map((item) => ({ firmId: "", ...item }) as RawUpsertRequest),
    );
    const { results } = planBatchUpsert(validations, [stored], { allOrNone: false, newId: () => "id-n" });
    const entries = batchEntries([stored], results);
    expect(
      entries.map((e) => [e.contactId, e.kind, e.fields.map((f) => [f.field, f.oldValue, f.newValue])]),
    ).toEqual([
      ["id-a", "updated", [["city", "Oslo", "Rome"]]],
      [
        "id-n",
        "created",
        [
          ["tracking_id", null, "N"],
          ["email", null, "n@example.com"],
          ["first_name", null, "N"],
          ["last_name", null, "M"],
        ],
      ],
      ["id-n", "updated", [["city", null, "Lyon"]]],
      ["id-a", "updated", [["city", "Rome", "Paris"]]],
    ]);
    const aborted = planBatchUpsert(validations, [stored], { allOrNone: true, newId: () => "id-n" });
    expect(batchEntries([stored], aborted.results)).toEqual([]);
  });
});

/**
 * A transaction over one stored contact, for the use cases: every read finds it, writes are dropped, and what
 * the use case records is kept. The stored contact is frozen, so a use case cannot change it in place.
 */
function oneContactStore(stored: Contact) {
  const recorded: HistoryEntry[] = [];
  const store: Partial<ContactStore> = {
    findUpsertCandidates: async () => ({ byTrackingId: stored, byEmail: null }),
    findById: async () => stored,
    findByEmail: async () => stored,
    findByTrackingId: async () => stored,
    findByKeys: async () => [stored],
    update: async () => undefined,
    writeBatch: async () => undefined,
    recordChanges: async (_firmId, _actor, entries) => {
      recorded.push(...entries);
    },
  };
  const transact: Transact = async (work) => ({
    value: await work(store as ContactStore),
    tick: new Date("2024-02-01T00:00:00Z"),
  });
  return { transact, recorded };
}

const triples = (entries: readonly HistoryEntry[]) =>
  entries.map((e) => [e.kind, e.fields.map((f) => [f.field, f.oldValue, f.newValue])]);

describe("history as the use cases record it: an update's old value is the stored one, its new value the request's", () => {
  const stored = Object.freeze(
    contact({ id: "0190a6e0-0000-7000-8000-00000000000a", trackingId: "K", city: "Oslo", phone: "+1" }),
  );

  it("UpsertContact", async () => {
    const { transact, recorded } = oneContactStore(stored);
    await upsertContact({ transact })({ firmId: "f", trackingId: "K", city: "Rome", phone: "" });
    expect(triples(recorded)).toEqual([
      [
        "updated",
        [
          ["phone", "+1", null],
          ["city", "Oslo", "Rome"],
        ],
      ],
    ]);
  });

  it("UpdateContact", async () => {
    const { transact, recorded } = oneContactStore(stored);
    await updateContact({ transact })({
      firmId: "f",
      id: stored.id,
      paths: ["city", "email"],
      values: { city: "Rome", email: "b@example.com" },
    });
    expect(triples(recorded)).toEqual([
      [
        "updated",
        [
          ["email", "a@example.com", "b@example.com"],
          ["city", "Oslo", "Rome"],
        ],
      ],
    ]);
  });

  it("BatchUpsertContacts, two items on one contact", async () => {
    const { transact, recorded } = oneContactStore(stored);
    await batchUpsertContacts({ transact })({
      firmId: "f",
      allOrNone: false,
      items: [
        { firmId: "", trackingId: "K", city: "Rome" },
        { firmId: "", trackingId: "K", city: "Paris" },
      ],
    });
    expect(triples(recorded)).toEqual([
      ["updated", [["city", "Oslo", "Rome"]]],
      ["updated", [["city", "Rome", "Paris"]]],
    ]);
  });
});

describe("ListContactChanges requests", () => {
  const key = Buffer.alloc(32, 7);
  it("page size 0 is 100 and above 1000 is 1000; negative and missing ids are violations naming the field", () => {
    const base = { firmId: "f", contactId: "c", pageToken: "" };
    expect(validateChanges({ ...base, pageSize: 0 }, key).pageSize).toBe(100);
    expect(validateChanges({ ...base, pageSize: 5000 }, key).pageSize).toBe(1000);
    expect(() => validateChanges({ ...base, pageSize: -1 }, key)).toThrow(/pageSize/);
    expect(() => validateChanges({ ...base, contactId: " ", pageSize: 0 }, key)).toThrow(/contactId/);
  });
});

describe("commit round trips", () => {
  const statement = (name: string, bytes: number): Queued => [name, ["x".repeat(bytes / 2 - 1)]];
  const names = (trips: Queued[][]) => trips.map((trip) => trip.map(([sql]) => sql));
  const tick: Queued[] = [
    ["tick1", []],
    ["tick2", []],
  ];
  const read: Queued = ["read", []];

  it("sends everything in one trip when it fits", () => {
    const trips = commitTrips([statement("claim", 100)], tick, [statement("w1", 100)], read, 1000);
    expect(names(trips)).toEqual([["claim", "tick1", "tick2", "w1", "read"]]);
  });

  it("sends claims first, then the writes in trips within the budget, opened by the tick and closed by its read", () => {
    const writes = [statement("w1", 400), statement("w2", 400), statement("w3", 400)];
    const trips = commitTrips([statement("claim", 400)], tick, writes, read, 1000);
    expect(names(trips)).toEqual([["claim"], ["tick1", "tick2", "w1", "w2"], ["w3", "read"]]);
    expect(names(commitTrips([], tick, writes, read, 1000))).toEqual([
      ["tick1", "tick2", "w1", "w2"],
      ["w3", "read"],
    ]);
    expect(names(commitTrips([statement("claim", 900)], tick, [statement("w1", 400)], read, 1000))).toEqual([
      ["claim"],
      ["tick1", "tick2", "w1", "read"],
    ]);
  });
});

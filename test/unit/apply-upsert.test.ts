import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyUpsert, newContact } from "../../src/contacts/apply-upsert.js";
import type { Contact, UpsertInput } from "../../src/contacts/contact.js";
import { DATA_FIELDS, OPTIONAL_FIELDS } from "../../src/contacts/fields.js";

const created = new Date("2024-01-01T00:00:00Z");
const later = new Date("2024-06-01T12:00:00Z");

const stored: Contact = Object.freeze({
  id: "0190a6e0-0000-7000-8000-000000000001",
  firmId: "firm-1",
  trackingId: "T-1",
  email: "ada@example.com",
  firstName: "Ada",
  lastName: "Lovelace",
  phone: "+44 20 0000 0000",
  company: "Analytical Engines",
  title: "Countess",
  country: "UK",
  numberAndStreet: "12 St James's Square",
  city: "London",
  state: null,
  zipCode: "SW1Y 4JH",
  prefix: "Lady",
  suffix: null,
  note: "first programmer\nsee notes",
  createTime: created,
  updateTime: created,
  // Assignments are AssignContact's alone: an upsert must carry them over untouched.
  clientIds: Object.freeze(["client-1", "client-2"]),
  investmentEntityIds: Object.freeze(["entity-1"]),
});

describe("applyUpsert", () => {
  it("keeps the stored assignments, whether or not something changed", () => {
    for (const input of [
      { firmId: "firm-1", city: "Paris", note: "" },
      { firmId: "firm-1", city: "London" },
    ]) {
      const { contact } = applyUpsert(stored, input, later);
      expect(contact.clientIds).toEqual(["client-1", "client-2"]);
      expect(contact.investmentEntityIds).toEqual(["entity-1"]);
    }
  });

  it("when a field is present, it replaces the stored value", () => {
    const { contact, changed } = applyUpsert(
      stored,
      { firmId: "firm-1", firstName: "Augusta", city: "Paris" },
      later,
    );
    expect(contact.firstName).toBe("Augusta");
    expect(contact.city).toBe("Paris");
    expect(changed).toEqual(["firstName", "city"]);
    expect(contact.updateTime).toBe(later);
  });

  it("when a field is present on a contact that lacked it, it is set", () => {
    const { contact, changed } = applyUpsert(stored, { firmId: "firm-1", state: "Greater London" }, later);
    expect(contact.state).toBe("Greater London");
    expect(changed).toEqual(["state"]);
  });

  it("when a field is omitted, the stored value is unchanged", () => {
    const { contact } = applyUpsert(stored, { firmId: "firm-1", phone: "555" }, later);
    for (const field of DATA_FIELDS.filter((f) => f !== "phone"))
      expect(contact[field], field).toBe(stored[field]);
  });

  it.each(OPTIONAL_FIELDS)("when %s is empty, it is cleared to null", (field) => {
    const withValues = { ...stored, [field]: "something" } as Contact;
    const { contact, changed } = applyUpsert(withValues, { firmId: "firm-1", [field]: "" }, later);
    expect(contact[field]).toBeNull();
    expect(changed).toEqual([field]);
    expect(contact.updateTime).toBe(later);
  });

  it("when an empty optional field is already null, nothing changes", () => {
    const { contact, changed } = applyUpsert(stored, { firmId: "firm-1", state: "", suffix: "" }, later);
    expect(changed).toEqual([]);
    expect(contact.updateTime).toBe(created);
  });

  it("when every given value equals the stored one, changed is empty and updateTime does not move", () => {
    const same: UpsertInput = {
      firmId: "firm-1",
      trackingId: "T-1",
      email: "ada@example.com",
      ...Object.fromEntries(DATA_FIELDS.map((field) => [field, stored[field] ?? ""])),
    };
    const { contact, changed } = applyUpsert(stored, same, later);
    expect(changed).toEqual([]);
    expect(contact).toEqual(stored);
    expect(contact.updateTime).toBe(created);
  });

  it("when the same upsert is applied twice, the second changes nothing (idempotent)", () => {
    const input: UpsertInput = { firmId: "firm-1", firstName: "Augusta", phone: "", note: "updated" };
    const once = applyUpsert(stored, input, later);
    const twice = applyUpsert(once.contact, input, new Date("2025-01-01T00:00:00Z"));
    expect(twice.changed).toEqual([]);
    expect(twice.contact).toEqual(once.contact);
  });

  it("lists changed fields in field-table order, not input order", () => {
    const { changed } = applyUpsert(
      stored,
      { firmId: "firm-1", note: "n", city: "c", firstName: "f" },
      later,
    );
    expect(changed).toEqual(["firstName", "city", "note"]);
  });

  it("never changes the keys: id, firmId, trackingId, email and createTime", () => {
    const { contact } = applyUpsert(
      stored,
      { firmId: "firm-2", trackingId: "T-OTHER", email: "someone.else@example.com", firstName: "X" },
      later,
    );
    expect(contact.id).toBe(stored.id);
    expect(contact.firmId).toBe("firm-1");
    expect(contact.trackingId).toBe("T-1");
    expect(contact.email).toBe("ada@example.com");
    expect(contact.createTime).toBe(created);
  });

  it("when only the email's letter case differs, the stored email is kept and nothing changes", () => {
    const { contact, changed } = applyUpsert(stored, { firmId: "firm-1", email: "ADA@EXAMPLE.COM" }, later);
    expect(contact.email).toBe("ada@example.com");
    expect(changed).toEqual([]);
  });

  it("does not modify the stored contact it is given", () => {
    const copy = { ...stored };
    applyUpsert(stored, { firmId: "firm-1", firstName: "Augusta", phone: "" }, later);
    expect(stored).toEqual(copy);
  });

  it("keys never change and changed names exactly the fields whose value differs, for any input", () => {
    const value = fc.option(fc.constantFrom("", "a", "b", "Ada"), { nil: undefined });
    const input = fc
      .record(Object.fromEntries(DATA_FIELDS.map((field) => [field, value])))
      .map(
        (fields): UpsertInput => ({ firmId: "firm-x", trackingId: "T-x", email: "x@example.com", ...fields }),
      );
    fc.assert(
      fc.property(input, (raw) => {
        const { contact, changed } = applyUpsert(stored, raw, later);
        expect([contact.id, contact.firmId, contact.trackingId, contact.email]).toEqual([
          stored.id,
          stored.firmId,
          stored.trackingId,
          stored.email,
        ]);
        expect(changed).toEqual(DATA_FIELDS.filter((field) => contact[field] !== stored[field]));
        expect(contact.updateTime).toBe(changed.length > 0 ? later : created);
      }),
    );
  });
});

describe("newContact", () => {
  it("fills every omitted or empty optional field with null", () => {
    const contact = newContact(
      { firmId: "firm-1", email: "ada@example.com", firstName: "Ada", lastName: "Lovelace", phone: "" },
      "id-1",
      later,
    );
    for (const field of OPTIONAL_FIELDS) expect(contact[field], field).toBeNull();
    expect(contact.trackingId).toBeNull();
  });

  it("copies the keys and data fields, and stamps both times with now", () => {
    const input: UpsertInput = {
      firmId: "firm-1",
      trackingId: "T-9",
      email: "Ada@Example.com",
      firstName: "Ada",
      lastName: "Lovelace",
      city: "London",
      note: "a\nb",
    };
    expect(newContact(input, "id-1", later)).toEqual({
      id: "id-1",
      firmId: "firm-1",
      trackingId: "T-9",
      email: "Ada@Example.com",
      firstName: "Ada",
      lastName: "Lovelace",
      phone: null,
      company: null,
      title: null,
      country: null,
      numberAndStreet: null,
      city: "London",
      state: null,
      zipCode: null,
      prefix: null,
      suffix: null,
      note: "a\nb",
      createTime: later,
      updateTime: later,
      clientIds: [],
      investmentEntityIds: [],
    });
  });
});

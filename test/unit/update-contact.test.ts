import { describe, expect, it } from "vitest";
import { applyUpdate, validateUpdate } from "../../src/contacts/apply-update.js";
import type { Contact } from "../../src/contacts/contact.js";
import { parseUpdateMask } from "../../src/contacts/update-mask.js";

const stored: Contact = Object.freeze({
  id: "0190a6e0-0000-7000-8000-000000000001",
  firmId: "firm-1",
  trackingId: "T-1",
  email: "ada@example.com",
  firstName: "Ada",
  lastName: "Lovelace",
  phone: "555",
  company: null,
  title: null,
  country: null,
  numberAndStreet: null,
  city: "London",
  state: null,
  zipCode: null,
  prefix: null,
  suffix: null,
  note: null,
  createTime: new Date("2024-01-01T00:00:00Z"),
  updateTime: new Date("2024-01-02T00:00:00Z"),
  clientIds: ["c-1"],
  investmentEntityIds: [],
});

describe("parseUpdateMask", () => {
  it.each([
    [["first_name"], ["firstName"]],
    [
      ["firstName", "first_name", " city "],
      ["firstName", "city"],
    ],
    [
      ["number_and_street", "zipCode", "tracking_id", "email"],
      ["email", "trackingId", "numberAndStreet", "zipCode"],
    ],
  ])("reads %j as %j, in field-table order, duplicates collapsed", (paths, fields) => {
    expect(parseUpdateMask(paths)).toEqual({ kind: "valid", fields });
  });

  it.each([
    [undefined, "is required"],
    [[], "is required"],
    [["nickname"], "is not a field of Contact"],
    [["FirstName"], "is not a field of Contact"],
    [["*"], "is not a field of Contact"],
    [["id"], "is output only"],
    [["firm_id"], "is output only"],
    [["create_time"], "is output only"],
    [["updateTime"], "is output only"],
    [["client_ids"], "is output only"],
    [["investmentEntityIds"], "is output only"],
    [["delete_time"], "is output only"],
  ])("refuses %j, naming updateMask (%s)", (paths, description) => {
    const result = parseUpdateMask(paths);
    expect(result.kind).toBe("invalid");
    if (result.kind !== "invalid") return;
    expect(result.violations.map((v) => v.field)).toEqual(["updateMask"]);
    expect(result.violations[0]?.description).toContain(description);
  });
});

describe("validateUpdate", () => {
  const request = (paths: string[] | undefined, values: Record<string, string | undefined>) => ({
    firmId: " firm-1 ",
    id: ` ${stored.id} `,
    paths,
    values,
  });

  it("trims, and turns a masked unset or empty optional field (tracking id included) into a clear", () => {
    expect(
      validateUpdate(request(["city", "phone", "trackingId", "note"], { city: " Paris ", phone: "  " })),
    ).toEqual({
      kind: "valid",
      input: {
        firmId: "firm-1",
        id: stored.id,
        changes: { city: "Paris", phone: null, trackingId: null, note: null },
      },
    });
  });

  it("ignores fields outside the mask, whatever they hold", () => {
    const result = validateUpdate(request(["city"], { city: "Paris", email: "not an email", firstName: "" }));
    expect(result).toMatchObject({ kind: "valid", input: { changes: { city: "Paris" } } });
  });

  it("refuses to clear the email or a name, and checks values with the upsert's field rules", () => {
    const result = validateUpdate(
      request(["email", "first_name", "last_name", "zip_code", "note", "phone"], {
        firstName: "x".repeat(201),
        lastName: " ",
        zipCode: "1".repeat(21),
        note: "tab\tand\nline",
        phone: "a\u2028b",
      }),
    );
    expect(result.kind).toBe("invalid");
    if (result.kind !== "invalid") return;
    expect(result.violations).toEqual([
      { field: "contact.email", description: "must not be empty" },
      { field: "contact.firstName", description: "must be at most 200 characters" },
      { field: "contact.lastName", description: "must not be empty" },
      { field: "contact.phone", description: "must not contain control characters or line breaks" },
      { field: "contact.zipCode", description: "must be at most 20 characters" },
    ]);
  });

  it("collects firm, id and mask problems together", () => {
    const result = validateUpdate({ firmId: "", id: undefined, paths: ["nope"], values: {} });
    expect(result.kind === "invalid" && result.violations.map((v) => v.field)).toEqual([
      "firmId",
      "contact.id",
      "updateMask",
    ]);
  });
});

describe("applyUpdate", () => {
  it("changes the given fields and reports them; equal values are no change", () => {
    const { contact, changed } = applyUpdate(stored, {
      city: "Paris",
      phone: "555",
      company: null,
      trackingId: null,
    });
    expect(changed).toEqual(["city", "trackingId"]);
    expect(contact).toEqual({ ...stored, city: "Paris", trackingId: null });
  });

  it("an email differing only in letter case is a change of its spelling", () => {
    expect(applyUpdate(stored, { email: "Ada@Example.com" }).changed).toEqual(["email"]);
  });

  it("applied twice, the second changes nothing; times and assignments are never touched", () => {
    const once = applyUpdate(stored, { firstName: "Augusta", note: "n" });
    const twice = applyUpdate(once.contact, { firstName: "Augusta", note: "n" });
    expect(twice.changed).toEqual([]);
    expect(twice.contact.updateTime).toBe(stored.updateTime);
    expect(twice.contact.clientIds).toBe(stored.clientIds);
  });
});

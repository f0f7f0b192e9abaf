import { randomUUID } from "node:crypto";
import http2 from "node:http2";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Contact } from "../../gen/contacts/v1/contact_pb.js";
import { type UpsertContactResponse, UpsertResult } from "../../gen/contacts/v1/contact_service_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import {
  connectGrpcH2,
  connectJsonH1,
  connectProtoH2,
  failure,
  grpcJsClient,
  grpcWebH1,
  type UpsertClient,
  type UpsertInit,
} from "../support/clients.js";
import { closeSqlPool, sql, storedContacts, uniqueFirm } from "../support/database.js";

// The rules of UpsertContact as proto/contacts/v1/contact_service.proto documents them, checked over every
// client and against what the database really holds.

const PROCEDURE = "/contacts.v1.ContactService/UpsertContact";

/** The documented maximum length of every request string, in code points (from the proto comments). */
const MAX_LENGTH = {
  firmId: 64,
  trackingId: 128,
  email: 254,
  firstName: 200,
  lastName: 200,
  phone: 50,
  company: 200,
  title: 200,
  country: 100,
  numberAndStreet: 200,
  city: 100,
  state: 100,
  zipCode: 20,
  prefix: 20,
  suffix: 20,
  note: 10_000,
} as const;
type RequestField = keyof typeof MAX_LENGTH;

const OPTIONAL_FIELDS = [
  "phone",
  "company",
  "title",
  "country",
  "numberAndStreet",
  "city",
  "state",
  "zipCode",
  "prefix",
  "suffix",
  "note",
] as const;

/** Contact message fields and the columns that store them. */
const COLUMNS = {
  id: "id",
  firmId: "firm_id",
  trackingId: "tracking_id",
  email: "email",
  firstName: "first_name",
  lastName: "last_name",
  phone: "phone",
  company: "company",
  title: "title",
  country: "country",
  numberAndStreet: "number_and_street",
  city: "city",
  state: "state",
  zipCode: "zip_code",
  prefix: "prefix",
  suffix: "suffix",
  note: "note",
} as const;

type Plain = Record<string, string | null>;

/** A Contact message as plain values; absent optional fields become null, timestamps ISO strings. */
function fromMessage(contact: Contact | undefined): Plain {
  if (!contact) throw new Error("the response has no contact");
  const values = contact as unknown as Record<string, string | undefined>;
  const out: Plain = {};
  for (const key of Object.keys(COLUMNS)) out[key] = values[key] ?? null;
  out.createTime = contact.createTime ? timestampDate(contact.createTime).toISOString() : null;
  out.updateTime = contact.updateTime ? timestampDate(contact.updateTime).toISOString() : null;
  return out;
}

/** A contacts row in the same shape as fromMessage. */
function fromRow(row: Record<string, unknown>): Plain {
  const out: Plain = {};
  for (const [key, column] of Object.entries(COLUMNS)) out[key] = (row[column] as string | null) ?? null;
  out.createTime = (row.create_time as Date).toISOString();
  out.updateTime = (row.update_time as Date).toISOString();
  return out;
}

/** Asserts that the response's contact is exactly the stored row, and returns that row. */
async function expectStored(response: UpsertContactResponse): Promise<Plain> {
  const rows = await sql("SELECT * FROM contacts WHERE id = ?", [response.contact?.id]);
  expect(rows).toHaveLength(1);
  const stored = fromRow(rows[0] as Record<string, unknown>);
  expect(fromMessage(response.contact)).toEqual(stored);
  return stored;
}

/** `head` followed by `fill` until the string is exactly `length` code points long. */
function codePoints(length: number, fill: string, head = ""): string {
  return head + fill.repeat(length - [...head].length);
}

/** A syntactically valid address of exactly `length` code points (at least 70), local part at its 64 maximum. */
function emailOfLength(length: number, letter = "a"): string {
  const local = letter.repeat(64);
  let domainLeft = length - 64 - 1 - ".com".length;
  const labels: string[] = [];
  while (domainLeft > 0) {
    const size = Math.min(63, domainLeft);
    // a label of 1 would leave the next one starting with a dot; keep every label at least 2 long
    const take = domainLeft - size === 1 ? size - 1 : size;
    labels.push("d".repeat(take));
    domainLeft -= take + 1;
  }
  const email = `${local}@${labels.join(".")}.com`;
  if ([...email].length !== length) throw new Error(`built an email of ${[...email].length}, not ${length}`);
  return email;
}

/** A firm id no other test uses, exactly `length` code points long. */
function firmOfLength(length: number, fill = "f"): string {
  return codePoints(length, fill, `${randomUUID()}-`);
}

const CLIENTS = [
  { name: "grpc-js", connect: grpcJsClient },
  { name: "connect-json-http1", connect: connectJsonH1 },
  { name: "connect-proto-h2c", connect: connectProtoH2 },
  { name: "grpc-web-http1", connect: grpcWebH1 },
  { name: "connect-grpc-h2c", connect: connectGrpcH2 },
];

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app.close();
  await closeSqlPool();
});

describe.each(CLIENTS)("UpsertContact over $name", ({ name, connect }) => {
  let client: UpsertClient;
  beforeAll(() => {
    client = connect(app.url);
  });
  afterAll(() => client.close());

  const firm = () => uniqueFirm(name);
  const upsert = (request: UpsertInit) => client.upsert(request, { timeoutMs: 10_000 });
  /** Creates Ann Lee and returns the response. */
  const createAnn = (firmId: string, extra: UpsertInit = {}) =>
    upsert({ firmId, email: "Ann@Example.com", firstName: "Ann", lastName: "Lee", ...extra });

  describe("matching", () => {
    it("without a trackingId, the email locates the contact ignoring letter case", async () => {
      const firmId = firm();
      const created = await createAnn(firmId);
      expect(created.result).toBe(UpsertResult.CREATED);
      const updated = await upsert({ firmId, email: "ANN@example.COM", lastName: "Lee-Smith" });
      expect(updated.result).toBe(UpsertResult.UPDATED);
      expect(updated.contact?.id).toBe(created.contact?.id);
      expect(updated.contact?.lastName).toBe("Lee-Smith");
      await expectStored(updated);
      expect(await storedContacts(firmId)).toHaveLength(1);
    });

    it("with a known trackingId, that contact is updated and a different email is not cross-checked", async () => {
      const firmId = firm();
      const ann = await createAnn(firmId, { trackingId: "crm-1" });
      const bob = await upsert({ firmId, email: "bob@example.com", firstName: "Bob", lastName: "Ray" });
      // Bob's email, but Ann's tracking id: Ann is updated, her email kept, and nothing is flagged.
      const updated = await upsert({
        firmId,
        trackingId: "crm-1",
        email: "bob@example.com",
        firstName: "Anna",
      });
      expect(updated.result).toBe(UpsertResult.UPDATED);
      expect(updated.contact?.id).toBe(ann.contact?.id);
      expect(updated.contact?.email).toBe("Ann@Example.com");
      expect(updated.contact?.firstName).toBe("Anna");
      await expectStored(updated);
      const rows = await storedContacts(firmId);
      expect(rows).toHaveLength(2);
      expect(rows.find((row) => row.id === bob.contact?.id)).toMatchObject({ first_name: "Bob" });
    });

    it("with a known trackingId and no email, the contact is updated", async () => {
      const firmId = firm();
      const ann = await createAnn(firmId, { trackingId: "crm-1" });
      const updated = await upsert({ firmId, trackingId: "crm-1", phone: "555-0100" });
      expect(updated.result).toBe(UpsertResult.UPDATED);
      expect(updated.contact?.id).toBe(ann.contact?.id);
      expect(updated.contact?.phone).toBe("555-0100");
      await expectStored(updated);
    });

    it("without a trackingId, a contact that has one is still found by its email", async () => {
      const firmId = firm();
      const ann = await createAnn(firmId, { trackingId: "crm-1" });
      const updated = await upsert({ firmId, email: "ann@example.com", city: "Oslo" });
      expect(updated.result).toBe(UpsertResult.UPDATED);
      expect(updated.contact?.id).toBe(ann.contact?.id);
      expect(updated.contact?.trackingId).toBe("crm-1");
      await expectStored(updated);
    });

    it("with neither trackingId nor email, the call is INVALID_ARGUMENT and nothing is written", async () => {
      const firmId = firm();
      const bad = await failure(upsert({ firmId, firstName: "Ann", lastName: "Lee" }));
      expect(bad.code).toBe("INVALID_ARGUMENT");
      expect(bad.message).toMatch(/trackingId|email/);
      expect(bad.fields.length).toBeGreaterThan(0);
      expect(bad.fields.every((field) => field === "trackingId" || field === "email")).toBe(true);
      expect(await storedContacts(firmId)).toEqual([]);
    });
  });

  describe("an unknown trackingId", () => {
    it("creates a contact with that tracking id", async () => {
      const firmId = firm();
      await createAnn(firmId, { trackingId: "crm-1" });
      const created = await upsert({
        firmId,
        trackingId: "crm-2",
        email: "bob@example.com",
        firstName: "Bob",
        lastName: "Ray",
      });
      expect(created.result).toBe(UpsertResult.CREATED);
      expect(created.contact?.trackingId).toBe("crm-2");
      await expectStored(created);
      expect(await storedContacts(firmId)).toHaveLength(2);
    });

    it("fails with ALREADY_EXISTS when its email belongs to another contact, in any letter case, and writes nothing", async () => {
      const firmId = firm();
      await createAnn(firmId, { trackingId: "crm-1" });
      await upsert({ firmId, email: "bob@example.com", firstName: "Bob", lastName: "Ray" });
      const before = await storedContacts(firmId);
      for (const email of ["Ann@Example.com", "ann@EXAMPLE.com", "BOB@example.com"]) {
        const bad = await failure(
          upsert({ firmId, trackingId: "crm-new", email, firstName: "Someone", lastName: "Else" }),
        );
        expect(bad.code).toBe("ALREADY_EXISTS");
        expect(bad.message).toContain("email");
      }
      expect(await storedContacts(firmId)).toEqual(before);
    });

    it("without an email is INVALID_ARGUMENT naming email, and writes nothing", async () => {
      const firmId = firm();
      const bad = await failure(upsert({ firmId, trackingId: "crm-1", firstName: "Ann", lastName: "Lee" }));
      expect(bad).toMatchObject({ code: "INVALID_ARGUMENT", fields: ["email"] });
      expect(bad.message).toContain("email");
      expect(await storedContacts(firmId)).toEqual([]);
    });
  });

  describe("creating", () => {
    it.each(["email", "firstName", "lastName"] as const)(
      "requires %s: INVALID_ARGUMENT naming it, nothing written",
      async (missing) => {
        const firmId = firm();
        const request: UpsertInit = {
          firmId,
          trackingId: "crm-1",
          email: "ann@example.com",
          firstName: "Ann",
          lastName: "Lee",
        };
        delete request[missing];
        const bad = await failure(upsert(request));
        expect(bad).toMatchObject({ code: "INVALID_ARGUMENT", fields: [missing] });
        expect(bad.message).toContain(missing);
        expect(await storedContacts(firmId)).toEqual([]);
      },
    );

    it("stores absent optional fields as absent", async () => {
      const firmId = firm();
      const created = await createAnn(firmId, { phone: "", note: "  " });
      const stored = await expectStored(created);
      for (const field of OPTIONAL_FIELDS) expect(stored[field]).toBeNull();
      expect(stored.trackingId).toBeNull();
    });
  });

  describe("updating", () => {
    it("a present field replaces, an omitted field is kept, an empty optional field is cleared", async () => {
      const firmId = firm();
      const full = Object.fromEntries(OPTIONAL_FIELDS.map((field) => [field, `old ${field}`]));
      const created = await createAnn(firmId, { trackingId: "crm-1", ...full });
      const updated = await upsert({
        firmId,
        trackingId: "crm-1",
        lastName: "Lee-Smith",
        phone: "555-0199",
        company: "",
        title: " \t ",
        note: "new\nnote",
      });
      expect(updated.result).toBe(UpsertResult.UPDATED);
      const stored = await expectStored(updated);
      expect(stored).toEqual({
        ...fromMessage(created.contact),
        ...full,
        lastName: "Lee-Smith",
        phone: "555-0199",
        company: null,
        title: null,
        note: "new\nnote",
        updateTime: stored.updateTime,
      });
    });

    it("never changes the stored email, not even its letter case", async () => {
      const firmId = firm();
      await createAnn(firmId, { trackingId: "crm-1" });
      const byEmail = await upsert({ firmId, email: "ann@example.com", firstName: "Annie" });
      expect(byEmail.contact?.email).toBe("Ann@Example.com");
      const byTrackingId = await upsert({ firmId, trackingId: "crm-1", email: "other@example.com" });
      expect(byTrackingId.contact?.email).toBe("Ann@Example.com");
      const rows = await storedContacts(firmId);
      expect(rows).toHaveLength(1);
      expect(rows[0]?.email).toBe("Ann@Example.com");
    });

    it.each([
      ["trackingId", { email: "ann@example.com" }],
      ["email", { trackingId: "crm-1" }],
      ["firstName", { trackingId: "crm-1" }],
      ["lastName", { email: "ann@example.com" }],
    ] as const)("a blank %s is INVALID_ARGUMENT naming it, and nothing is written", async (field, key) => {
      const firmId = firm();
      await createAnn(firmId, { trackingId: "crm-1" });
      const before = await storedContacts(firmId);
      for (const blank of ["", "   ", "\n\t "]) {
        const bad = await failure(upsert({ firmId, ...key, [field]: blank }));
        expect(bad).toMatchObject({ code: "INVALID_ARGUMENT", fields: [field] });
        expect(bad.message).toContain(field);
      }
      expect(await storedContacts(firmId)).toEqual(before);
    });
  });

  describe("trimming", () => {
    it("surrounding whitespace is trimmed from every string before it is stored", async () => {
      const firmId = firm();
      const created = await upsert({
        firmId: ` \t${firmId}\n`,
        trackingId: "  crm-1 ",
        email: "\n Ann@Example.com \t",
        firstName: " Ann ",
        lastName: "\u00a0Lee\u00a0",
        phone: " 555 0100 ",
        city: "\r\nNew York\r\n",
        note: "\n  first line\n\tsecond line  \n",
      });
      const stored = await expectStored(created);
      expect(stored).toMatchObject({
        firmId,
        trackingId: "crm-1",
        email: "Ann@Example.com",
        firstName: "Ann",
        lastName: "Lee",
        phone: "555 0100",
        city: "New York",
        note: "first line\n\tsecond line",
      });
    });

    it("padded keys match the stored contact", async () => {
      const firmId = firm();
      const ann = await createAnn(firmId, { trackingId: "crm-1" });
      const byTrackingId = await upsert({ firmId: ` ${firmId} `, trackingId: "\tcrm-1\n", title: "Dr" });
      expect(byTrackingId.result).toBe(UpsertResult.UPDATED);
      expect(byTrackingId.contact?.id).toBe(ann.contact?.id);
      const byEmail = await upsert({ firmId: `${firmId}\n`, email: "  ann@example.com  ", title: "Prof" });
      expect(byEmail.result).toBe(UpsertResult.UPDATED);
      expect(byEmail.contact?.id).toBe(ann.contact?.id);
      expect(await storedContacts(firmId)).toHaveLength(1);
    });

    it("validates the trimmed value: whitespace around a maximal value is not counted", async () => {
      const firmId = firm();
      const phone = "5".repeat(MAX_LENGTH.phone);
      const created = await createAnn(firmId, { phone: `   ${phone}   ` });
      expect((await expectStored(created)).phone).toBe(phone);
    });
  });

  describe("firms", () => {
    it("firmId is required: missing or blank is INVALID_ARGUMENT naming firmId", async () => {
      for (const request of [{}, { firmId: "" }, { firmId: "  \n" }]) {
        const bad = await failure(
          upsert({ ...request, email: "ann@example.com", firstName: "Ann", lastName: "Lee" }),
        );
        expect(bad).toMatchObject({ code: "INVALID_ARGUMENT", fields: ["firmId"] });
        expect(bad.message).toContain("firmId");
      }
      expect(await sql("SELECT id FROM contacts WHERE firm_id = ''")).toEqual([]);
    });

    it("the same email in two firms is two contacts", async () => {
      const [first, second] = [firm(), firm()];
      const a = await createAnn(first);
      const b = await upsert({
        firmId: second,
        email: "ann@example.com",
        firstName: "Other",
        lastName: "Ann",
      });
      expect(b.result).toBe(UpsertResult.CREATED);
      expect(b.contact?.id).not.toBe(a.contact?.id);
      expect((await storedContacts(first))[0]).toMatchObject({ first_name: "Ann", email: "Ann@Example.com" });
      expect((await storedContacts(second))[0]).toMatchObject({
        first_name: "Other",
        email: "ann@example.com",
      });
    });

    it("the same trackingId in two firms is two contacts", async () => {
      const [first, second] = [firm(), firm()];
      const a = await createAnn(first, { trackingId: "crm-1" });
      const b = await createAnn(second, { trackingId: "crm-1", firstName: "Other" });
      expect(b.result).toBe(UpsertResult.CREATED);
      expect(b.contact?.id).not.toBe(a.contact?.id);
      expect(await storedContacts(first)).toHaveLength(1);
      expect((await storedContacts(first))[0]).toMatchObject({ first_name: "Ann" });
      expect((await storedContacts(second))[0]).toMatchObject({ first_name: "Other" });
    });
  });

  describe("validation", () => {
    it.each([
      "nope",
      "ann@",
      "@example.com",
      "ann@example",
      "ann@@example.com",
      "ann smith@example.com",
      ".ann@example.com",
      "ann..lee@example.com",
      "ann@-example.com",
      "ann@example..com",
      `${"a".repeat(65)}@example.com`,
    ])("email %j is INVALID_ARGUMENT naming email, nothing written", async (email) => {
      const firmId = firm();
      const bad = await failure(upsert({ firmId, email, firstName: "Ann", lastName: "Lee" }));
      expect(bad).toMatchObject({ code: "INVALID_ARGUMENT", fields: ["email"] });
      expect(bad.message).toContain("email");
      expect(await storedContacts(firmId)).toEqual([]);
    });

    it.each(Object.keys(MAX_LENGTH) as RequestField[])(
      "%s one character over its documented maximum is INVALID_ARGUMENT naming it, never truncated",
      async (field) => {
        const max = MAX_LENGTH[field];
        let firmId = firm();
        const request: UpsertInit = {
          firmId,
          trackingId: "crm-1",
          email: "ann@example.com",
          firstName: "Ann",
          lastName: "Lee",
        };
        if (field === "firmId") request.firmId = firmId = firmOfLength(max + 1);
        else if (field === "email") request.email = emailOfLength(max + 1);
        else request[field] = "x".repeat(max + 1);
        const bad = await failure(upsert(request));
        expect(bad).toMatchObject({ code: "INVALID_ARGUMENT", fields: [field] });
        expect(bad.message).toContain(field);
        expect(bad.message).toContain(String(max));
        // Nothing stored, in particular not a value cut to fit the column.
        expect(await storedContacts(firmId)).toEqual([]);
        expect(await storedContacts([...firmId].slice(0, MAX_LENGTH.firmId).join(""))).toEqual([]);
      },
    );

    it("an over-long field is rejected on update too, leaving the contact as it was", async () => {
      const firmId = firm();
      await createAnn(firmId, { trackingId: "crm-1", zipCode: "10001" });
      const before = await storedContacts(firmId);
      const bad = await failure(upsert({ firmId, trackingId: "crm-1", zipCode: "9".repeat(21) }));
      expect(bad).toMatchObject({ code: "INVALID_ARGUMENT", fields: ["zipCode"] });
      expect(await storedContacts(firmId)).toEqual(before);
    });

    it("reports every problem as its own field violation, by JSON name", async () => {
      const firmId = firm();
      const bad = await failure(
        upsert({
          firmId,
          email: "not-an-email",
          firstName: "An\u0000n",
          lastName: "Lee",
          phone: "5".repeat(51),
          numberAndStreet: "x".repeat(201),
          zipCode: "1".repeat(21),
        }),
      );
      expect(bad.code).toBe("INVALID_ARGUMENT");
      expect([...bad.fields].sort()).toEqual(["email", "firstName", "numberAndStreet", "phone", "zipCode"]);
      for (const field of bad.fields) expect(bad.message).toContain(field);
      expect(bad.message).not.toContain("number_and_street");
      expect(await storedContacts(firmId)).toEqual([]);
    });

    it("single-line fields reject control characters and inner line breaks; note keeps tabs and line breaks", async () => {
      const firmId = firm();
      for (const [field, value] of [
        ["firstName", "Ann\nMarie"],
        ["company", "Acme\tInc"],
        ["city", "Oslo\u0007"],
        ["note", "beep\u0007"],
        ["trackingId", "crm\r1"],
      ] as const) {
        const bad = await failure(createAnn(firmId, { [field]: value }));
        expect(bad).toMatchObject({ code: "INVALID_ARGUMENT", fields: [field] });
      }
      expect(await storedContacts(firmId)).toEqual([]);
      const created = await createAnn(firmId, { note: "line 1\r\nline 2\n\tindented" });
      expect((await expectStored(created)).note).toBe("line 1\r\nline 2\n\tindented");
    });
  });

  describe("idempotency and the response", () => {
    it("sending the same create twice leaves one contact, with the same update_time", async () => {
      const firmId = firm();
      const request: UpsertInit = {
        firmId,
        trackingId: "crm-1",
        email: "ann@example.com",
        firstName: "Ann",
        lastName: "Lee",
        city: "Oslo",
      };
      const first = await upsert(request);
      const afterFirst = await storedContacts(firmId);
      await new Promise((resolve) => setTimeout(resolve, 15));
      const second = await upsert(request);
      expect(first.result).toBe(UpsertResult.CREATED);
      expect(second.result).toBe(UpsertResult.UPDATED);
      expect(fromMessage(second.contact)).toEqual(fromMessage(first.contact));
      expect(await storedContacts(firmId)).toEqual(afterFirst);
      await expectStored(second);
    });

    it("sending the same update twice moves update_time once", async () => {
      const firmId = firm();
      const created = await createAnn(firmId);
      await new Promise((resolve) => setTimeout(resolve, 15));
      const request: UpsertInit = { firmId, email: "ann@example.com", company: "Acme", phone: "" };
      const first = await upsert(request);
      const firstStored = await expectStored(first);
      expect(firstStored.updateTime).not.toBe(fromMessage(created.contact).updateTime);
      await new Promise((resolve) => setTimeout(resolve, 15));
      const second = await upsert(request);
      expect(second.result).toBe(UpsertResult.UPDATED);
      expect(await expectStored(second)).toEqual(firstStored);
    });

    it("the response carries the full stored contact, on create and on update", async () => {
      const firmId = firm();
      const values = Object.fromEntries(OPTIONAL_FIELDS.map((field) => [field, `${field} value`]));
      const created = await createAnn(firmId, { trackingId: "crm-1", ...values });
      expect(created.contact?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      const createdStored = await expectStored(created);
      expect(createdStored).toMatchObject({ firmId, trackingId: "crm-1", ...values });
      expect(createdStored.createTime).toBe(createdStored.updateTime);
      const updated = await upsert({ firmId, email: "ann@example.com", suffix: "Jr." });
      const updatedStored = await expectStored(updated);
      expect(updatedStored).toMatchObject({ ...values, suffix: "Jr.", createTime: createdStored.createTime });
    });
  });

  describe("email collation and exact storage", () => {
    it("josé@ and jose@ are two contacts", async () => {
      const firmId = firm();
      const accented = await upsert({ firmId, email: "josé@example.com", firstName: "José", lastName: "A" });
      const plain = await upsert({ firmId, email: "jose@example.com", firstName: "Jose", lastName: "B" });
      expect(plain.result).toBe(UpsertResult.CREATED);
      expect(plain.contact?.id).not.toBe(accented.contact?.id);
      expect((await storedContacts(firmId)).map((row) => row.email).sort()).toEqual([
        "jose@example.com",
        "josé@example.com",
      ]);
    });

    it("JOSÉ@ and josé@ are one contact, which keeps the email it was created with", async () => {
      const firmId = firm();
      const created = await upsert({ firmId, email: "josé@example.com", firstName: "José", lastName: "A" });
      const updated = await upsert({ firmId, email: "JOSÉ@EXAMPLE.COM", lastName: "Álvarez" });
      expect(updated.result).toBe(UpsertResult.UPDATED);
      expect(updated.contact?.id).toBe(created.contact?.id);
      expect(updated.contact?.email).toBe("josé@example.com");
      const taken = await failure(
        upsert({ firmId, trackingId: "crm-1", email: "JOSÉ@example.com", firstName: "X", lastName: "Y" }),
      );
      expect(taken.code).toBe("ALREADY_EXISTS");
      expect(await storedContacts(firmId)).toHaveLength(1);
    });

    it("every field at its exact maximum, in 4-byte characters, stores and reads back exactly", async () => {
      const emoji = "😀";
      const firmId = firmOfLength(MAX_LENGTH.firmId, emoji);
      const request: Record<string, string> = {
        firmId,
        trackingId: emoji.repeat(MAX_LENGTH.trackingId),
        // Deseret letters are cased letters outside the Basic Multilingual Plane: 4 bytes in UTF-8, and their
        // key (case folded) is 4 bytes a letter too.
        email: `${"𐐀".repeat(64)}@${"𐐁".repeat(63)}.${"𐐂".repeat(63)}.${"𐐃".repeat(57)}.𐐄𐐅𐐆`,
        firstName: emoji.repeat(MAX_LENGTH.firstName),
        lastName: emoji.repeat(MAX_LENGTH.lastName),
      };
      for (const field of OPTIONAL_FIELDS) request[field] = emoji.repeat(MAX_LENGTH[field]);
      expect([...(request.email as string)]).toHaveLength(MAX_LENGTH.email);
      const created = await upsert(request as UpsertInit);
      expect(created.result).toBe(UpsertResult.CREATED);
      const stored = await expectStored(created);
      expect(stored).toMatchObject(request);
      // And the same values again, ASCII at the maximum.
      const ascii = firmOfLength(MAX_LENGTH.firmId);
      const asciiRequest: Record<string, string> = {
        firmId: ascii,
        trackingId: "t".repeat(MAX_LENGTH.trackingId),
        email: emailOfLength(MAX_LENGTH.email),
        firstName: "f".repeat(MAX_LENGTH.firstName),
        lastName: "l".repeat(MAX_LENGTH.lastName),
      };
      for (const field of OPTIONAL_FIELDS) asciiRequest[field] = "o".repeat(MAX_LENGTH[field]);
      expect(await expectStored(await upsert(asciiRequest as UpsertInit))).toMatchObject(asciiRequest);
    });

    it("right-to-left text, combining marks and emoji sequences store and read back exactly", async () => {
      const firmId = firm();
      const request = {
        firmId,
        email: "مستخدم@مثال.مصر",
        firstName: "שָׁלוֹם",
        lastName: "عَبْد الله",
        company: "\u200fشركة الأمل",
        city: "ירושלים",
        title: "Cafe\u0301",
        note: "مرحبا\nשלום 👋🏽 👨‍👩‍👧",
      };
      const created = await upsert(request);
      expect(await expectStored(created)).toMatchObject(request);
      const again = await upsert({ firmId, email: "مستخدم@مثال.مصر", title: "Cafe\u0301" });
      expect(again.result).toBe(UpsertResult.UPDATED);
      expect(again.contact?.id).toBe(created.contact?.id);
    });
  });
});

/** A request whose first_name is not valid UTF-8, sent as bytes each protocol carries it in. */
const INVALID_UTF8 = Buffer.from([0x41, 0xff, 0xfe, 0x42]);

function protoField(tag: number, value: Buffer): Buffer {
  if (value.length > 127) throw new Error("single-byte lengths only");
  return Buffer.concat([Buffer.from([tag, value.length]), value]);
}

function invalidProtoRequest(firmId: string): Buffer {
  return Buffer.concat([
    protoField(0x0a, Buffer.from(firmId)), // 1: firm_id
    protoField(0x1a, Buffer.from("ann@example.com")), // 3: email
    protoField(0x22, INVALID_UTF8), // 4: first_name
    protoField(0x2a, Buffer.from("Lee")), // 5: last_name
  ]);
}

function invalidJsonRequest(firmId: string): Buffer {
  return Buffer.concat([
    Buffer.from(`{"firmId":${JSON.stringify(firmId)},"email":"ann@example.com","firstName":"`),
    INVALID_UTF8,
    Buffer.from('","lastName":"Lee"}'),
  ]);
}

/** "invalid_argument" -> "INVALID_ARGUMENT"; "OK" when the call succeeded. */
function connectCode(status: number, body: string): string {
  if (status === 200) return "OK";
  return String((JSON.parse(body) as { code?: string }).code).toUpperCase();
}

const RAW_SENDERS = [
  {
    name: "grpc-js",
    send: (url: string, firmId: string) =>
      new Promise<string>((resolve) => {
        const raw = new grpc.Client(new URL(url).host, grpc.credentials.createInsecure());
        raw.makeUnaryRequest(
          PROCEDURE,
          (bytes: Buffer) => bytes,
          (bytes: Buffer) => bytes,
          invalidProtoRequest(firmId),
          new grpc.Metadata(),
          { deadline: Date.now() + 10_000 },
          (error) => {
            raw.close();
            resolve(error ? (grpc.status[error.code] ?? String(error.code)) : "OK");
          },
        );
      }),
  },
  {
    name: "connect-json-http1",
    send: async (url: string, firmId: string) => {
      const response = await fetch(`${url}${PROCEDURE}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: invalidJsonRequest(firmId),
        signal: AbortSignal.timeout(10_000),
      });
      return connectCode(response.status, await response.text());
    },
  },
  {
    name: "connect-proto-h2c",
    send: (url: string, firmId: string) =>
      new Promise<string>((resolve, reject) => {
        const session = http2.connect(url);
        session.on("error", reject);
        const request = session.request(
          { ":method": "POST", ":path": PROCEDURE, "content-type": "application/proto" },
          { signal: AbortSignal.timeout(10_000) },
        );
        let status = 0;
        const chunks: Buffer[] = [];
        request.on("response", (headers) => {
          status = Number(headers[":status"]);
        });
        request.on("data", (chunk: Buffer) => chunks.push(chunk));
        request.on("error", reject);
        request.on("end", () => {
          session.close();
          resolve(connectCode(status, Buffer.concat(chunks).toString()));
        });
        request.end(invalidProtoRequest(firmId));
      }),
  },
];

describe.each(RAW_SENDERS)("bytes that are not UTF-8, over $name", ({ name, send }) => {
  it("a string that is not valid UTF-8 is INVALID_ARGUMENT, never internal nor a changed value", async () => {
    const firmId = uniqueFirm(name);
    expect(await send(app.url, firmId)).toBe("INVALID_ARGUMENT");
    expect(await storedContacts(firmId)).toEqual([]);
  });
});

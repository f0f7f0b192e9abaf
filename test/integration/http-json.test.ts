import { fromBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema } from "../../gen-deps/google/rpc/error_details_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { closeSqlPool, sql, storedContacts, uniqueFirm } from "../support/database.js";

// UpsertContact as a plain HTTP client sees it: Node's fetch speaks HTTP/1.1, as curl does, and posts the
// Connect protocol's unary JSON with nothing but a content type.

const PATH = "/contacts.v1.ContactService/UpsertContact";

interface JsonReply {
  readonly status: number;
  readonly contentType: string | null;
  readonly body: Record<string, unknown>;
}

interface ConnectErrorBody {
  readonly code: string;
  readonly message: string;
  readonly details?: readonly { type: string; value: string }[];
}

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app.close();
  await closeSqlPool();
});

async function post(body: unknown): Promise<JsonReply> {
  const response = await fetch(`${app.url}${PATH}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return {
    status: response.status,
    contentType: response.headers.get("content-type"),
    body: (await response.json()) as Record<string, unknown>,
  };
}

/** The field names of the google.rpc.BadRequest details of a Connect error body. */
function badRequestFields(error: ConnectErrorBody): string[] {
  return (error.details ?? [])
    .filter((detail) => detail.type === "google.rpc.BadRequest")
    .flatMap((detail) =>
      // Connect sends binary detail values as unpadded base64.
      fromBinary(BadRequestSchema, Buffer.from(detail.value, "base64")).fieldViolations.map((v) => v.field),
    );
}

const CONTACT_KEYS = [
  "id",
  "firmId",
  "trackingId",
  "email",
  "firstName",
  "lastName",
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
  "createTime",
  "updateTime",
];

describe("UpsertContact as plain JSON over HTTP/1.1", () => {
  it("creates a contact: 200 with the spec's JSON names and result UPSERT_RESULT_CREATED", async () => {
    const firmId = uniqueFirm("http");
    const request = {
      firmId,
      trackingId: "crm-42",
      email: "Ann@Example.com",
      firstName: "Ann",
      lastName: "Lee",
      phone: "+1 555 0100",
      company: "Acme",
      title: "CFO",
      country: "US",
      numberAndStreet: "1 Main St",
      city: "Springfield",
      state: "IL",
      zipCode: "62701",
      prefix: "Dr.",
      suffix: "PhD",
      note: "met at the fair\nfollow up",
    };
    const reply = await post(request);
    expect(reply.status).toBe(200);
    expect(reply.contentType).toMatch(/^application\/json/);
    expect(reply.body.result).toBe("UPSERT_RESULT_CREATED");
    const contact = reply.body.contact as Record<string, unknown>;
    expect(Object.keys(contact).sort()).toEqual([...CONTACT_KEYS].sort());
    expect(contact).toMatchObject(request);
    expect(contact.createTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    const rows = await sql("SELECT * FROM contacts WHERE id = ?", [contact.id]);
    expect(rows).toHaveLength(1);
    const row = rows[0] as Record<string, unknown>;
    expect(row).toMatchObject({
      firm_id: firmId,
      tracking_id: "crm-42",
      email: "Ann@Example.com",
      number_and_street: "1 Main St",
      zip_code: "62701",
    });
    expect(new Date(contact.createTime as string).toISOString()).toBe(
      (row.create_time as Date).toISOString(),
    );
  });

  it("the same POST again answers UPSERT_RESULT_UPDATED with the same contact", async () => {
    const firmId = uniqueFirm("http");
    const request = { firmId, email: "bob@example.com", firstName: "Bob", lastName: "Ray", city: "Oslo" };
    const first = await post(request);
    const second = await post(request);
    expect(second.status).toBe(200);
    expect(second.body.result).toBe("UPSERT_RESULT_UPDATED");
    expect(second.body.contact).toEqual(first.body.contact);
    expect(await storedContacts(firmId)).toHaveLength(1);
  });

  it("leaves absent optional fields out of the JSON, and clears one sent as an empty string", async () => {
    const firmId = uniqueFirm("http");
    const created = await post({ firmId, email: "c@example.com", firstName: "C", lastName: "D", phone: "1" });
    expect(created.body.contact).not.toHaveProperty("trackingId");
    expect(created.body.contact).not.toHaveProperty("company");
    expect(created.body.contact).toHaveProperty("phone", "1");
    const cleared = await post({ firmId, email: "c@example.com", phone: "" });
    expect(cleared.body.result).toBe("UPSERT_RESULT_UPDATED");
    expect(cleared.body.contact).not.toHaveProperty("phone");
    expect((await storedContacts(firmId))[0]?.phone).toBeNull();
  });

  it("accepts the proto field names too, as every ProtoJSON parser must", async () => {
    const firmId = uniqueFirm("http");
    const reply = await post({
      firm_id: firmId,
      email: "e@example.com",
      first_name: "E",
      last_name: "F",
      zip_code: "0150",
    });
    expect(reply.status).toBe(200);
    expect(reply.body.contact).toMatchObject({ firmId, firstName: "E", lastName: "F", zipCode: "0150" });
  });

  it("a validation error is HTTP 400 invalid_argument naming each field, with a BadRequest detail", async () => {
    const firmId = uniqueFirm("http");
    const reply = await post({
      firmId,
      email: "not an email",
      firstName: "Ann",
      lastName: "Lee",
      zipCode: "1".repeat(21),
    });
    expect(reply.status).toBe(400);
    expect(reply.contentType).toMatch(/^application\/json/);
    const error = reply.body as unknown as ConnectErrorBody;
    expect(error.code).toBe("invalid_argument");
    expect(error.message).toContain("email");
    expect(error.message).toContain("zipCode");
    expect(badRequestFields(error).sort()).toEqual(["email", "zipCode"]);
    expect(await storedContacts(firmId)).toEqual([]);
  });

  it("a request with neither trackingId nor email is HTTP 400 invalid_argument", async () => {
    const firmId = uniqueFirm("http");
    const reply = await post({ firmId, firstName: "Ann", lastName: "Lee" });
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe("invalid_argument");
    expect(reply.body.message).toMatch(/trackingId|email/);
  });

  it("a missing firmId is HTTP 400 invalid_argument naming firmId", async () => {
    const reply = await post({ email: "ann@example.com", firstName: "Ann", lastName: "Lee" });
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe("invalid_argument");
    expect(reply.body.message).toContain("firmId");
  });

  it("a taken email under a new trackingId is HTTP 409 already_exists, and nothing is written", async () => {
    const firmId = uniqueFirm("http");
    await post({ firmId, email: "ann@example.com", firstName: "Ann", lastName: "Lee" });
    const before = await storedContacts(firmId);
    const reply = await post({
      firmId,
      trackingId: "crm-new",
      email: "ANN@example.com",
      firstName: "Other",
      lastName: "Person",
    });
    expect(reply.status).toBe(409);
    expect(reply.body.code).toBe("already_exists");
    expect(reply.body.message).toContain("email");
    expect(await storedContacts(firmId)).toEqual(before);
  });

  it("malformed JSON is HTTP 400 invalid_argument, never internal", async () => {
    for (const body of ["{", '{"firmId": 5}', '{"firmId": "x", "email": ["a@example.com"]}']) {
      const reply = await post(body);
      expect(reply.status).toBe(400);
      expect(reply.body.code).toBe("invalid_argument");
    }
  });

  it("a string that is not valid Unicode is HTTP 400 naming the field by its JSON name, with a BadRequest detail", async () => {
    const firmId = uniqueFirm("http");
    // JSON.stringify escapes the lone surrogate as \ud800, which is valid JSON but not valid text.
    const reply = await post({ firmId, email: "ann@example.com", firstName: "Ann", lastName: "Lee\ud800" });
    expect(reply.status).toBe(400);
    const error = reply.body as unknown as ConnectErrorBody;
    expect(error.code).toBe("invalid_argument");
    expect(await storedContacts(firmId)).toEqual([]);
    expect(error.message).toContain("lastName");
    expect(badRequestFields(error)).toEqual(["lastName"]);
  });
});

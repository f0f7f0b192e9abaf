import { timestampDate } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Contact } from "../../gen/contacts/v1/contact_pb.js";
import { type BatchUpsertContactsResult, UpsertResult } from "../../gen/contacts/v1/contact_service_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import {
  type BatchClient,
  connectJsonBatchClient,
  grpcJsBatchClient,
  grpcWebBatchClient,
  itemError,
} from "../support/batch-clients.js";
import { connectJsonH1, failure, grpcJsClient } from "../support/clients.js";
import { closeSqlPool, openTestConnection, sql, storedContacts, uniqueFirm } from "../support/database.js";

// BatchUpsertContacts as issue 8 describes it, over real clients, checked against what the database holds.

const CLIENTS = [
  { name: "grpc-js", connect: grpcJsBatchClient },
  { name: "connect-json-http1", connect: connectJsonBatchClient },
  { name: "grpc-web-http1", connect: grpcWebBatchClient },
];

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app.close();
  await closeSqlPool();
});

const names = { firstName: "Ann", lastName: "Lee" };

function response(result: BatchUpsertContactsResult | undefined) {
  if (result?.outcome.case !== "response")
    throw new Error(`item failed: ${JSON.stringify(itemError(result))}`);
  return result.outcome.value;
}

/** A stored row and a returned Contact compared field by field. */
function expectSameContact(contact: Contact | undefined, row: Record<string, unknown> | undefined) {
  expect(contact?.id).toBe(row?.id);
  expect(contact?.email).toBe(row?.email);
  expect(contact?.trackingId ?? null).toBe(row?.tracking_id);
  expect(contact?.city ?? null).toBe(row?.city);
  expect(contact?.phone ?? null).toBe(row?.phone);
  expect(contact?.updateTime && timestampDate(contact.updateTime).toISOString()).toBe(
    (row?.update_time as Date | undefined)?.toISOString(),
  );
}

describe.each(CLIENTS)("BatchUpsertContacts over $name", ({ name, connect }) => {
  let client: BatchClient;
  beforeAll(() => {
    client = connect(app.url);
  });
  afterAll(() => client.close());
  const firm = () => uniqueFirm(`batch-${name}`);

  it("applies items in order, each with a single upsert's rules, and one failure does not stop the others", async () => {
    const firmId = firm();
    const { results } = await client.batch({
      firmId,
      requests: [
        { trackingId: "T1", email: "ann@example.com", ...names },
        { trackingId: "T1", city: "Lyon" },
        { email: "ANN@example.com", phone: "+33 1" },
        { trackingId: "T2", email: "Ann@Example.com", ...names },
        { email: "not an email" },
        { firmId: "another-firm", email: "carl@example.com", ...names },
        { firmId, email: "bob@example.com", firstName: "Bob", lastName: "Ray" },
      ],
    });
    expect(results).toHaveLength(7);
    const created = response(results[0]);
    expect(created.result).toBe(UpsertResult.CREATED);
    const annId = created.contact?.id;
    expect(response(results[1])).toMatchObject({
      result: UpsertResult.UPDATED,
      contact: { id: annId, city: "Lyon" },
    });
    const byEmail = response(results[2]);
    expect(byEmail).toMatchObject({
      result: UpsertResult.UPDATED,
      contact: { id: annId, city: "Lyon", phone: "+33 1" },
    });
    expect(itemError(results[3])).toEqual({
      code: "ALREADY_EXISTS",
      message: expect.stringMatching(/^email: already belongs to another contact/),
      fields: [],
      errorInfo: {
        reason: "EMAIL_TAKEN",
        domain: "contacts.v1",
        metadata: { field: "email", contactId: annId },
      },
    });
    expect(itemError(results[4])).toMatchObject({
      code: "INVALID_ARGUMENT",
      fields: ["email"],
    });
    expect(itemError(results[5])).toMatchObject({
      code: "INVALID_ARGUMENT",
      message: "firmId: must be empty or equal to the batch's firmId",
      fields: ["firmId"],
    });
    expect(response(results[6]).result).toBe(UpsertResult.CREATED);

    const rows = await storedContacts(firmId);
    expect(rows.map((r) => r.email).sort()).toEqual(["ann@example.com", "bob@example.com"]);
    expectSameContact(
      byEmail.contact,
      rows.find((r) => r.id === annId),
    );
    expectSameContact(
      response(results[6]).contact,
      rows.find((r) => r.email === "bob@example.com"),
    );
  });

  it("with all_or_none, a failing item writes nothing: it reports its error and every other item ABORTED", async () => {
    const firmId = firm();
    const { results } = await client.batch({
      firmId,
      allOrNone: true,
      requests: [
        { trackingId: "T1", email: "ann@example.com", ...names },
        { trackingId: "T1", email: "  " },
        { email: "bob@example.com", firstName: "Bob", lastName: "Ray" },
      ],
    });
    expect(results.map((r) => itemError(r)?.code)).toEqual(["ABORTED", "INVALID_ARGUMENT", "ABORTED"]);
    expect(itemError(results[1])?.fields).toEqual(["email"]);
    expect(await storedContacts(firmId)).toHaveLength(0);
    // Without the failing item, the same batch writes everything.
    const ok = await client.batch({
      firmId,
      allOrNone: true,
      requests: [
        { trackingId: "T1", email: "ann@example.com", ...names },
        { email: "bob@example.com", firstName: "Bob", lastName: "Ray" },
      ],
    });
    expect(ok.results.map((r) => response(r).result)).toEqual([UpsertResult.CREATED, UpsertResult.CREATED]);
    expect(await storedContacts(firmId)).toHaveLength(2);
  });

  it("refuses an empty batch or one of more than 1000 requests, naming `requests`", async () => {
    const firmId = firm();
    const item = { email: "a@example.com", ...names };
    for (const requests of [[], Array(1001).fill(item)]) {
      const refused = await failure(client.batch({ firmId, requests }));
      expect(refused).toMatchObject({ code: "INVALID_ARGUMENT", fields: ["requests"] });
    }
    expect(await storedContacts(firmId)).toHaveLength(0);
  });

  it("refuses a batch without a firm, naming `firmId`", async () => {
    const refused = await failure(
      client.batch({ firmId: " ", requests: [{ email: "a@example.com", ...names }] }),
    );
    expect(refused).toMatchObject({ code: "INVALID_ARGUMENT", fields: ["firmId"] });
  });
});

describe("an item's error is the one a single call gets", () => {
  it.each([
    { name: "grpc-js", batch: grpcJsBatchClient, single: grpcJsClient },
    { name: "connect-json-http1", batch: connectJsonBatchClient, single: connectJsonH1 },
  ])("over $name: same code, message, fields and ErrorInfo", async ({ batch, single }) => {
    const firmId = uniqueFirm("batch-same-error");
    const batchClient = batch(app.url);
    const singleClient = single(app.url);
    try {
      await singleClient.upsert({ firmId, email: "taken@example.com", ...names });
      const items = [
        { firmId, trackingId: "NEW", email: "TAKEN@example.com", ...names },
        { firmId, trackingId: "x".repeat(129), email: "bad@", phone: "\u0000" },
        { firmId, note: "no key" },
        { firmId, trackingId: "T9", email: "new@example.com" },
      ];
      const { results } = await batchClient.batch({ firmId, requests: items });
      for (const [i, item] of items.entries()) {
        const expected = await failure(singleClient.upsert(item));
        const got = itemError(results[i]);
        const info = got?.errorInfo && { reason: got.errorInfo.reason, metadata: got.errorInfo.metadata };
        expect({
          code: got?.code,
          message: got?.message,
          fields: got?.fields,
          ...(info && { info }),
        }).toEqual(expected);
      }
    } finally {
      batchClient.close();
      singleClient.close();
    }
  });
});

describe("concurrency", () => {
  it("batches racing on the same new keys all succeed, retried as a whole: one contact per key, one create each", async () => {
    const firmId = uniqueFirm("batch-race");
    const keys = Array.from({ length: 20 }, (_, i) => i);
    const clients = [grpcJsBatchClient(app.url), connectJsonBatchClient(app.url)];
    try {
      const batches = Array.from({ length: 6 }, (_, b) => {
        // Each batch sends the keys in its own order, so their locks are taken in different orders.
        const order = [...keys].sort((x, y) => ((x * 7 + b * 13) % 20) - ((y * 7 + b * 13) % 20));
        return (clients[b % 2] as BatchClient).batch({
          firmId,
          requests: order.map((i) =>
            b % 3 === 0
              ? { email: `k${i}@example.com`, firstName: "F", lastName: `B${b}` }
              : { trackingId: `K${i}`, email: `K${i}@Example.com`, firstName: "F", lastName: `B${b}` },
          ),
        });
      });
      const answers = await Promise.all(batches);
      const results = answers.flatMap((a) => a.results);
      expect(results).toHaveLength(120);
      // By email first or by tracking id first, each key is created once; the rest update it, except a new
      // tracking id arriving after an email-only create of the same email, which conflicts as a single call would.
      const codes = results.map((r) => itemError(r)?.code ?? "OK");
      expect(codes.filter((c) => c !== "OK" && c !== "ALREADY_EXISTS")).toEqual([]);
      const created = results.filter(
        (r) => r.outcome.case === "response" && r.outcome.value.result === UpsertResult.CREATED,
      );
      const rows = await storedContacts(firmId);
      expect(rows).toHaveLength(20);
      expect(created).toHaveLength(20);
    } finally {
      for (const client of clients) client.close();
    }
  }, 120_000);
});

describe("assignments", () => {
  it("every path of a batch item leaves client and investment-entity ids as they were, and returns them", async () => {
    const firmId = uniqueFirm("batch-assign");
    const single = grpcJsClient(app.url);
    const client = grpcJsBatchClient(app.url);
    try {
      const ann = await single.upsert({ firmId, trackingId: "T1", email: "ann@example.com", ...names });
      const contactId = ann.contact?.id ?? "";
      await single.assign({ firmId, contactId, clientIds: ["c-2", "c-1"], investmentEntityIds: ["e-1"] });
      const { results } = await client.batch({
        firmId,
        requests: [
          { trackingId: "T1", city: "Lyon" }, // update by tracking id
          { email: "ANN@example.com", phone: "+1" }, // update by email
          { trackingId: "T1" }, // no change
          { trackingId: "T2", email: "bob@example.com", firstName: "Bob", lastName: "Ray" }, // create
          { trackingId: "T3", email: "ann@example.com", ...names }, // conflict
        ],
      });
      for (const result of results.slice(0, 3)) {
        expect(response(result).contact).toMatchObject({
          clientIds: ["c-1", "c-2"],
          investmentEntityIds: ["e-1"],
        });
      }
      expect(response(results[3]).contact).toMatchObject({ clientIds: [], investmentEntityIds: [] });
      expect(itemError(results[4])?.code).toBe("ALREADY_EXISTS");
      const stored = await sql<{ kind: string; ref_id: string }>(
        "SELECT kind, ref_id FROM contact_assignments WHERE contact_id = ? ORDER BY kind, ref_id",
        [contactId],
      );
      expect(stored.map((r) => r.ref_id)).toEqual(["c-1", "c-2", "e-1"]);
    } finally {
      single.close();
      client.close();
    }
  });
});

describe("limits", () => {
  /** `head` padded with `fill` to exactly `length` code points. */
  const pad = (length: number, fill: string, head: string) => head + fill.repeat(length - [...head].length);
  // 𠀀 (U+20000) is a letter of four UTF-8 bytes: the widest a field can be.
  const wide = "\u{20000}";
  const fullItem = (i: number) => ({
    trackingId: pad(128, wide, `${i}-`),
    email: `${pad(64, "a", `${i}.`)}@${"d".repeat(63)}.${"e".repeat(63)}.${"f".repeat(57)}.com`,
    firstName: pad(200, wide, ""),
    lastName: pad(200, wide, ""),
    phone: pad(50, wide, ""),
    company: pad(200, wide, ""),
    title: pad(200, wide, ""),
    country: pad(100, wide, ""),
    numberAndStreet: pad(200, wide, ""),
    city: pad(100, wide, ""),
    state: pad(100, wide, ""),
    zipCode: pad(20, wide, ""),
    prefix: pad(20, wide, ""),
    suffix: pad(20, wide, ""),
    note: pad(10_000, wide, ""),
  });

  it("accepts 1000 items with every field at its maximum length, over Connect JSON and then gRPC", async () => {
    const firmId = pad(64, "f", `${uniqueFirm("full")}-`);
    const requests = Array.from({ length: 1000 }, (_, i) => fullItem(i));
    expect(requests[0]?.email.length).toBe(254);
    const json = connectJsonBatchClient(app.url);
    const created = await json.batch({ firmId, requests }, 120_000);
    expect(created.results.map((r) => response(r).result)).toEqual(Array(1000).fill(UpsertResult.CREATED));
    const [row] = await storedContacts(firmId);
    expect([...String(row?.note)].length).toBe(10_000);
    expect(await storedContacts(firmId)).toHaveLength(1000);
    // Its change history (1000 creates of about 48 KB each) does not fit one packet: it went in several trips.
    const [history] = await sql<{ n: number }>(
      "SELECT COUNT(*) AS n FROM contact_changes WHERE firm_id = ?",
      [firmId],
    );
    expect(Number(history?.n)).toBe(1000);
    // The same batch again over gRPC: every item matches its contact by tracking id and changes nothing.
    const grpcClient = grpcJsBatchClient(app.url);
    try {
      const again = await grpcClient.batch({ firmId, requests }, 120_000);
      expect(again.results.map((r) => response(r).result)).toEqual(Array(1000).fill(UpsertResult.UPDATED));
      expect(again.results.map((r) => response(r).contact?.id).sort()).toEqual(
        created.results.map((r) => response(r).contact?.id).sort(),
      );
    } finally {
      grpcClient.close();
    }
  }, 180_000);
});

describe("the caller's deadline applies to a batch", () => {
  it("answers DEADLINE_EXCEEDED on time while blocked on a lock, and writes nothing", async () => {
    const firmId = uniqueFirm("batch-deadline");
    const client = grpcJsBatchClient(app.url);
    try {
      await client.batch({
        firmId,
        requests: [{ trackingId: "T1", email: "d@example.com", firstName: "Before", lastName: "L" }],
      });
      const blocker = await openTestConnection();
      try {
        await blocker.beginTransaction();
        await blocker.query("SELECT id FROM contacts WHERE firm_id = ? FOR UPDATE", [firmId]);
        const started = Date.now();
        const late = await failure(
          client.batch(
            {
              firmId,
              requests: [
                { trackingId: "T1", firstName: "After" },
                { email: "n@example.com", ...names },
              ],
            },
            300,
          ),
        );
        expect(late.code).toBe("DEADLINE_EXCEEDED");
        expect(Date.now() - started).toBeLessThan(1_500);
        await new Promise((resolve) => setTimeout(resolve, 200));
        await blocker.rollback();
      } finally {
        await blocker.end();
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      const rows = await storedContacts(firmId);
      expect(rows.map((r) => r.first_name)).toEqual(["Before"]);
    } finally {
      client.close();
    }
  });
});

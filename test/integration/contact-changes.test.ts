import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Contact } from "../../gen/contacts/v1/contact_pb.js";
import { ChangeKind, type ContactChange } from "../../gen/contacts/v1/contact_service_pb.js";
import { openDatabase } from "../../src/db/database.js";
import { purgeTombstoneBatch } from "../../src/db/tombstone-purge.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { type BatchClient, connectJsonBatchClient, grpcJsBatchClient } from "../support/batch-clients.js";
import { connectJsonH1, failure, grpcJsClient, type UpsertClient } from "../support/clients.js";
import { closeSqlPool, sql, TEST_DATABASE_URL, uniqueFirm } from "../support/database.js";

// ListContactChanges and the history every write records (issue 9), over grpc-js (gRPC on h2c) and Connect JSON
// on HTTP/1.1, checked against the stored rows: kinds, principal, request id, old and new values, nothing for a
// no-op, pages, NOT_FOUND, a deleted contact's history, the same transaction as the change.

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app.close();
  await closeSqlPool();
});

type Row = Record<string, unknown>;
const historyRows = (firmId: string, contactId?: string) =>
  sql<Row>(
    `SELECT contact_id, change_time, seq, principal, request_id, kind, fields FROM contact_changes WHERE firm_id = ?${
      contactId ? " AND contact_id = ?" : ""
    } ORDER BY change_time, seq`,
    contactId ? [firmId, contactId] : [firmId],
  );
const clockOf = async (firmId: string) =>
  (await sql<{ last_time: Date }>("SELECT last_time FROM firm_clocks WHERE firm_id = ?", [firmId]))[0]
    ?.last_time;
const updateTimeOf = async (id: string) =>
  (await sql<{ update_time: Date }>("SELECT update_time FROM contacts WHERE id = ?", [id]))[0]?.update_time;
const ms = (contact: Contact | undefined) => {
  if (!contact?.updateTime) throw new Error("no contact");
  return timestampDate(contact.updateTime).getTime();
};
/** A change as plain values: kind name, principal, request id, [field, old, new] triples. */
const plain = (change: ContactChange) => ({
  kind: ChangeKind[change.kind],
  principal: change.principal,
  requestId: change.requestId ?? null,
  fields: change.fields.map((f) => [f.field, f.oldValue ?? null, f.newValue ?? null]),
});

describe.each([
  { name: "grpc-js", make: grpcJsClient, makeBatch: grpcJsBatchClient },
  { name: "connect-json-http1", make: connectJsonH1, makeBatch: connectJsonBatchClient },
])("over $name", ({ make, makeBatch }) => {
  let client: UpsertClient;
  let batch: BatchClient;
  beforeAll(() => {
    client = make(app.url);
    batch = makeBatch(app.url);
  });
  afterAll(() => {
    client.close();
    batch.close();
  });

  const allChanges = async (firmId: string, contactId: string) =>
    (await client.changes({ firmId, contactId, pageSize: 1000 })).changes;

  it("records every kind of change, newest first, with old and new values, at the time the change produced", async () => {
    const firmId = uniqueFirm("hist");
    const created = await client.upsert({
      firmId,
      trackingId: "T-1",
      email: "Ann@Example.com",
      firstName: "Ann",
      lastName: "Lee",
      city: "Oslo",
      note: "line1\nline2",
      requestId: "req-create",
    });
    const id = created.contact?.id ?? "";
    const upserted = await client.upsert({
      firmId,
      trackingId: "T-1",
      city: "Lyon",
      phone: "+1 555",
      note: "",
    });
    const updated = await client.update({
      firmId,
      contact: { id, email: "ann@new.example.com", lastName: "Lee" },
      updateMask: { paths: ["email", "last_name"] },
    });
    const assigned = await client.assign({
      firmId,
      contactId: id,
      clientIds: ["c2", "c1", "c1"],
      investmentEntityIds: ["e1"],
    });
    const unassigned = await client.unassign({ firmId, contactId: id, clientIds: ["c1", "absent"] });
    await client.delete({ firmId, id });

    const changes = await allChanges(firmId, id);
    expect(changes.map(plain)).toEqual([
      { kind: "DELETED", principal: "anonymous", requestId: null, fields: [] },
      { kind: "UNASSIGNED", principal: "anonymous", requestId: null, fields: [["client_ids", "c1", null]] },
      {
        kind: "ASSIGNED",
        principal: "anonymous",
        requestId: null,
        fields: [
          ["client_ids", null, "c1"],
          ["client_ids", null, "c2"],
          ["investment_entity_ids", null, "e1"],
        ],
      },
      {
        kind: "UPDATED",
        principal: "anonymous",
        requestId: null,
        fields: [["email", "Ann@Example.com", "ann@new.example.com"]],
      },
      {
        kind: "UPDATED",
        principal: "anonymous",
        requestId: null,
        fields: [
          ["phone", null, "+1 555"],
          ["city", "Oslo", "Lyon"],
          ["note", "line1\nline2", null],
        ],
      },
      {
        kind: "CREATED",
        principal: "anonymous",
        requestId: "req-create",
        fields: [
          ["tracking_id", null, "T-1"],
          ["email", null, "Ann@Example.com"],
          ["first_name", null, "Ann"],
          ["last_name", null, "Lee"],
          ["city", null, "Oslo"],
          ["note", null, "line1\nline2"],
        ],
      },
    ]);
    // Each change's time is the update (or delete) time it produced.
    const times = changes.map((c) => {
      if (!c.changeTime) throw new Error("no change_time");
      return timestampDate(c.changeTime).getTime();
    });
    const [tombstone] = await sql<{ delete_time: Date }>(
      "SELECT delete_time FROM contact_tombstones WHERE id = ?",
      [id],
    );
    expect(times).toEqual([
      tombstone?.delete_time.getTime(),
      ms(unassigned.contact),
      ms(assigned.contact),
      ms(updated.contact),
      ms(upserted.contact),
      ms(created.contact),
    ]);
    // As stored: one row per change, fields as [field, old, new] triples.
    const rows = await historyRows(firmId, id);
    expect(rows.map((r) => [r.kind, r.seq, r.principal, r.request_id])).toEqual([
      ["created", 0, "anonymous", "req-create"],
      ["updated", 0, "anonymous", null],
      ["updated", 0, "anonymous", null],
      ["assigned", 0, "anonymous", null],
      ["unassigned", 0, "anonymous", null],
      ["deleted", 0, "anonymous", null],
    ]);
    expect(JSON.parse(String(rows[1]?.fields))).toEqual([
      ["phone", null, "+1 555"],
      ["city", "Oslo", "Lyon"],
      ["note", "line1\nline2", null],
    ]);
  });

  it("a call that changes nothing records nothing, writes nothing and keeps the update time", async () => {
    const firmId = uniqueFirm("hist-noop");
    const request = { firmId, trackingId: "T-1", email: "a@example.com", firstName: "A", lastName: "B" };
    const { contact } = await client.upsert(request);
    const id = contact?.id ?? "";
    await client.assign({ firmId, contactId: id, clientIds: ["c1"] });
    const before = await historyRows(firmId);
    const clock = await clockOf(firmId);
    const updateTime = await updateTimeOf(id);
    expect(before).toHaveLength(2);

    const again = await client.upsert({ ...request, requestId: "replayed" });
    expect(again.changedFields?.paths).toEqual([]);
    await client.upsert({ firmId, email: "A@EXAMPLE.COM", city: "" });
    await client.update({ firmId, contact: { id, firstName: "A" }, updateMask: { paths: ["first_name"] } });
    await client.assign({ firmId, contactId: id, clientIds: ["c1"] });
    await client.unassign({ firmId, contactId: id, clientIds: ["c2"], investmentEntityIds: ["e9"] });
    const noop = await batch.batch({
      firmId,
      requests: [{ trackingId: "T-1", firstName: "A" }, { email: "a@example.com" }],
    });
    expect(noop.results.map((r) => r.outcome.case)).toEqual(["response", "response"]);

    expect(await historyRows(firmId)).toEqual(before);
    // No write reached the commit: the firm's clock took no tick, the contact kept its time.
    expect(await clockOf(firmId)).toEqual(clock);
    expect(await updateTimeOf(id)).toEqual(updateTime);
    expect(await allChanges(firmId, id)).toHaveLength(2);
  });

  it("a batch records each item that wrote, in item order within one tick, with the batch's request id", async () => {
    const firmId = uniqueFirm("hist-batch");
    const { contact: known } = await client.upsert({
      firmId,
      trackingId: "K",
      email: "k@example.com",
      firstName: "K",
      lastName: "L",
    });
    const answer = await batch.batch({
      firmId,
      requestId: "nightly-1",
      requests: [
        { trackingId: "N", email: "n@example.com", firstName: "N", lastName: "M" },
        { trackingId: "N", city: "Oslo" },
        { trackingId: "K", title: "Dr" },
        { trackingId: "K", title: "Dr" }, // no change: no entry
        { email: "bad" }, // fails: no entry
        { trackingId: "N", city: "Rome" },
      ],
    });
    expect(answer.results.map((r) => r.outcome.case)).toEqual([
      "response",
      "response",
      "response",
      "response",
      "error",
      "response",
    ]);
    const newId =
      answer.results[0]?.outcome.case === "response"
        ? (answer.results[0].outcome.value.contact?.id ?? "")
        : "";
    const rows = await historyRows(firmId);
    // The known contact's create, then the batch: one tick, seq in item order.
    expect(rows.map((r) => [r.contact_id, r.kind, r.seq, r.request_id])).toEqual([
      [known?.id, "created", 0, null],
      [newId, "created", 0, "nightly-1"],
      [newId, "updated", 1, "nightly-1"],
      [known?.id, "updated", 2, "nightly-1"],
      [newId, "updated", 3, "nightly-1"],
    ]);
    const batchTimes = new Set(rows.slice(1).map((r) => (r.change_time as Date).getTime()));
    expect(batchTimes.size).toBe(1);
    expect([...batchTimes][0]).toBe((await updateTimeOf(newId))?.getTime());

    expect((await allChanges(firmId, newId)).map(plain)).toEqual([
      { kind: "UPDATED", principal: "anonymous", requestId: "nightly-1", fields: [["city", "Oslo", "Rome"]] },
      { kind: "UPDATED", principal: "anonymous", requestId: "nightly-1", fields: [["city", null, "Oslo"]] },
      {
        kind: "CREATED",
        principal: "anonymous",
        requestId: "nightly-1",
        fields: [
          ["tracking_id", null, "N"],
          ["email", null, "n@example.com"],
          ["first_name", null, "N"],
          ["last_name", null, "M"],
        ],
      },
    ]);
    expect((await allChanges(firmId, known?.id ?? "")).map(plain)[0]).toEqual({
      kind: "UPDATED",
      principal: "anonymous",
      requestId: "nightly-1",
      fields: [["title", null, "Dr"]],
    });

    // all_or_none with a failing item writes nothing, history included.
    const before = await historyRows(firmId);
    await batch.batch({
      firmId,
      allOrNone: true,
      requests: [{ trackingId: "K", title: "Prof" }, { email: "bad" }],
    });
    expect(await historyRows(firmId)).toEqual(before);
  });

  it("pages newest first with signed tokens bound to the firm and the contact", async () => {
    const firmId = uniqueFirm("hist-page");
    const { contact } = await client.upsert({
      firmId,
      email: "p@example.com",
      firstName: "P",
      lastName: "Q",
    });
    const id = contact?.id ?? "";
    const { contact: other } = await client.upsert({
      firmId,
      email: "o@example.com",
      firstName: "O",
      lastName: "Q",
    });
    for (let i = 0; i < 24; i++) await client.upsert({ firmId, email: "p@example.com", city: `city-${i}` });
    const expected = (await allChanges(firmId, id)).map(plain);
    expect(expected).toHaveLength(25);
    expect(expected[0]?.fields).toEqual([["city", "city-22", "city-23"]]);

    const pages: ReturnType<typeof plain>[][] = [];
    let pageToken = "";
    do {
      const page = await client.changes({ firmId, contactId: id, pageSize: 10, pageToken });
      pages.push(page.changes.map(plain));
      pageToken = page.nextPageToken;
    } while (pageToken !== "" && pages.length < 10);
    expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
    expect(pages.flat()).toEqual(expected);
    // page_size 0 is 100.
    const whole = await client.changes({ firmId, contactId: id, pageSize: 0 });
    expect(whole.changes).toHaveLength(25);
    expect(whole.nextPageToken).toBe("");

    const { nextPageToken } = await client.changes({ firmId, contactId: id, pageSize: 3 });
    for (const [request, field] of [
      [{ firmId, contactId: other?.id ?? "", pageToken: nextPageToken }, "pageToken"],
      [{ firmId: uniqueFirm("hist-page-other"), contactId: id, pageToken: nextPageToken }, "pageToken"],
      [{ firmId, contactId: id, pageToken: `${nextPageToken.slice(0, -2)}AA` }, "pageToken"],
      [{ firmId, contactId: id, pageToken: "not a token" }, "pageToken"],
      [{ firmId, contactId: id, pageSize: -1 }, "pageSize"],
      [{ firmId, contactId: " " }, "contactId"],
      [{ firmId: "", contactId: id }, "firmId"],
    ] as const) {
      const result = await failure(client.changes(request));
      expect(result.code).toBe("INVALID_ARGUMENT");
      expect(result.fields).toEqual([field]);
    }
    // A ListContacts token is not a ListContactChanges token.
    await client.upsert({ firmId, email: "x@example.com", firstName: "X", lastName: "Y" });
    const listed = await client.list({ firmId, pageSize: 1 });
    const fromList = await failure(
      client.changes({ firmId, contactId: id, pageToken: listed.nextPageToken }),
    );
    expect(fromList.fields).toEqual(["pageToken"]);
  });

  it("is NOT_FOUND for an unknown contact, another firm's, or one whose tombstone was purged", async () => {
    const firmId = uniqueFirm("hist-nf");
    const { contact } = await client.upsert({
      firmId,
      email: "n@example.com",
      firstName: "N",
      lastName: "F",
    });
    const id = contact?.id ?? "";
    for (const [firm, contactId] of [
      [firmId, "019ac8f0-0000-7000-8000-000000000000"],
      [uniqueFirm("hist-nf-other"), id],
      [firmId, "josé"],
      [firmId, "x".repeat(100)],
    ] as const) {
      expect((await failure(client.changes({ firmId: firm, contactId }))).code).toBe("NOT_FOUND");
    }
    // A contact stored without history (before migration 0004) exists: an empty page, not NOT_FOUND.
    await sql("DELETE FROM contact_changes WHERE firm_id = ? AND contact_id = ?", [firmId, id]);
    expect(await client.changes({ firmId, contactId: id })).toMatchObject({ changes: [], nextPageToken: "" });
  });

  it("a write that fails leaves no history: ALREADY_EXISTS from UpdateContact and from a create", async () => {
    const firmId = uniqueFirm("hist-tx");
    const { contact: a } = await client.upsert({
      firmId,
      email: "a@example.com",
      firstName: "A",
      lastName: "A",
    });
    const { contact: b } = await client.upsert({
      firmId,
      email: "b@example.com",
      firstName: "B",
      lastName: "B",
    });
    const before = await historyRows(firmId);
    const taken = await failure(
      client.update({
        firmId,
        contact: { id: b?.id ?? "", email: "a@example.com", city: "Oslo" },
        updateMask: { paths: ["email", "city"] },
      }),
    );
    expect(taken.code).toBe("ALREADY_EXISTS");
    const create = await failure(
      client.upsert({ firmId, trackingId: "new", email: "A@example.com", firstName: "C", lastName: "C" }),
    );
    expect(create.code).toBe("ALREADY_EXISTS");
    expect(await historyRows(firmId)).toEqual(before);
    expect(before.map((r) => r.contact_id)).toEqual([a?.id, b?.id]);
  });
});

describe("the same transaction as the change", () => {
  // Coalescing would carry racing calls in one transaction and hide the retry this test is about,
  // so its server takes one call per transaction; rounds repeat until a retry has happened.
  it("creates racing on the same new tracking ids, retried as a whole, record one CREATED each and nothing else", async () => {
    const racing = await startTestApp({ COALESCE_MAX_UPSERTS: "1" });
    const clients = [grpcJsClient(racing.url), connectJsonH1(racing.url)];
    try {
      for (let round = 0; round < 10 && racing.retries.duplicate + racing.retries.deadlock === 0; round++) {
        const firmId = uniqueFirm("hist-race");
        await Promise.all(
          Array.from({ length: 24 }, (_, i) =>
            (clients[i % 2] as UpsertClient).upsert({
              firmId,
              trackingId: `R${i % 4}`,
              email: `r${i % 4}@example.com`,
              firstName: "R",
              lastName: "S",
            }),
          ),
        );
        const live = await sql<{ id: string }>("SELECT id FROM contacts WHERE firm_id = ? ORDER BY id", [
          firmId,
        ]);
        expect(live).toHaveLength(4);
        const rows = await sql<{ contact_id: string; kind: string }>(
          "SELECT contact_id, kind FROM contact_changes WHERE firm_id = ? ORDER BY contact_id",
          [firmId],
        );
        // A failed attempt's history (its contact id never stored) would show here.
        expect(rows).toEqual(live.map(({ id }) => ({ contact_id: id, kind: "created" })));
      }
    } finally {
      for (const client of clients) client.close();
      await racing.close();
    }
    expect(racing.retries.duplicate + racing.retries.deadlock).toBeGreaterThan(0);
  });
});

describe("a deleted contact's history", () => {
  it("stays readable until the purge removes its tombstone, and goes with it", async () => {
    const client = grpcJsClient(app.url);
    const database = await openDatabase({ url: TEST_DATABASE_URL, poolSize: 1, connectTimeoutMs: 5000 });
    try {
      const firmId = uniqueFirm("hist-purge");
      const ids: string[] = [];
      for (const name of ["old", "recent"]) {
        const { contact } = await client.upsert({
          firmId,
          email: `${name}@example.com`,
          firstName: "A",
          lastName: "B",
        });
        await client.upsert({ firmId, email: `${name}@example.com`, city: "Oslo" });
        await client.delete({ firmId, id: contact?.id ?? "" });
        ids.push(contact?.id ?? "");
      }
      const [old, recent] = ids as [string, string];
      expect(
        (await client.changes({ firmId, contactId: old })).changes.map((c) => ChangeKind[c.kind]),
      ).toEqual(["DELETED", "UPDATED", "CREATED"]);
      await sql(
        "UPDATE contact_tombstones SET delete_time = UTC_TIMESTAMP(3) - INTERVAL 40 DAY WHERE id = ?",
        [old],
      );
      while ((await purgeTombstoneBatch(database.dataSource, 30, 100)) > 0);
      expect(await historyRows(firmId, old)).toEqual([]);
      expect((await failure(client.changes({ firmId, contactId: old }))).code).toBe("NOT_FOUND");
      expect(await historyRows(firmId, recent)).toHaveLength(3);
      expect((await client.changes({ firmId, contactId: recent })).changes).toHaveLength(3);
    } finally {
      client.close();
      await database.close();
    }
  });
});

describe("with API keys", () => {
  it("records the API key's name as the principal of every kind of change", async () => {
    const dir = await mkdtemp(join(tmpdir(), "contacts-history-keys-"));
    const token = "history-token-0123456789";
    const keysFile = join(dir, "keys.json");
    await writeFile(
      keysFile,
      JSON.stringify([
        { name: "crm-sync", sha256: createHash("sha256").update(token).digest("hex"), firms: ["*"] },
      ]),
    );
    const keyed = await startTestApp({ API_KEYS_FILE: keysFile });
    const clients = [grpcJsClient(keyed.url), connectJsonH1(keyed.url)];
    try {
      for (const client of clients) {
        const options = { headers: { authorization: `Bearer ${token}` } };
        const firmId = uniqueFirm("hist-keys");
        const { contact } = await client.upsert(
          { firmId, email: "k@example.com", firstName: "K", lastName: "L", requestId: "r-1" },
          options,
        );
        const id = contact?.id ?? "";
        await client.upsert({ firmId, email: "k@example.com", city: "Oslo" }, options);
        await client.update(
          { firmId, contact: { id, title: "Dr" }, updateMask: { paths: ["title"] } },
          options,
        );
        await client.assign({ firmId, contactId: id, clientIds: ["c1"] }, options);
        await client.unassign({ firmId, contactId: id, clientIds: ["c1"] }, options);
        await client.delete({ firmId, id }, options);
        const { changes } = await client.changes({ firmId, contactId: id }, options);
        expect(changes.map((c) => [ChangeKind[c.kind], c.principal, c.requestId ?? null])).toEqual([
          ["DELETED", "crm-sync", null],
          ["UNASSIGNED", "crm-sync", null],
          ["ASSIGNED", "crm-sync", null],
          ["UPDATED", "crm-sync", null],
          ["UPDATED", "crm-sync", null],
          ["CREATED", "crm-sync", "r-1"],
        ]);
        expect((await historyRows(firmId, id)).map((r) => r.principal)).toEqual(Array(6).fill("crm-sync"));
        // Reading history needs a token too.
        expect((await failure(client.changes({ firmId, contactId: id }))).code).toBe("UNAUTHENTICATED");
      }
    } finally {
      for (const client of clients) client.close();
      await keyed.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

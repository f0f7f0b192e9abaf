import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MatchKey, UpsertResult } from "../../gen/contacts/v1/contact_service_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { type BatchClient, clientPairs, closeClientPairs, itemError } from "../support/batch-clients.js";
import { failure, type UpsertClient } from "../support/clients.js";
import { closeSqlPool, openTestConnection, sql, uniqueFirm } from "../support/database.js";

// validate_only: the call reads, matches and checks conflicts as a real one, answers what it would do, and
// leaves the database exactly as it was: rows, their times, the firm's clock.

let app: TestApp;
let clients: [UpsertClient, BatchClient][];
beforeAll(async () => {
  app = await startTestApp();
  clients = clientPairs(app.url);
});
afterAll(async () => {
  closeClientPairs(clients);
  await app.close();
  await closeSqlPool();
});

/** Everything a firm has stored that a write could change: contacts (every column), clock, history. */
async function snapshot(firmId: string) {
  const contacts = await sql("SELECT * FROM contacts WHERE firm_id = ? ORDER BY id", [firmId]);
  const clock = await sql("SELECT last_time FROM firm_clocks WHERE firm_id = ?", [firmId]);
  const assignments = await sql("SELECT * FROM contact_assignments WHERE firm_id = ?", [firmId]);
  const history = await sql("SELECT * FROM contact_changes WHERE firm_id = ? ORDER BY contact_id, seq", [
    firmId,
  ]);
  return { contacts, clock, assignments, history };
}

const millis = (time: Timestamp | undefined) => (time ? timestampDate(time).getTime() : Number.NaN);

const ANN = { trackingId: "T-1", email: "ann@example.com", firstName: "Ann", lastName: "Lee" };

describe.each([0, 1])("validate_only on UpsertContact (client %i)", (index) => {
  const client = () => (clients[index] as [UpsertClient, BatchClient])[0];

  it("previews a create: the answer a real call gives, nothing stored, the clock untouched", async () => {
    const firmId = uniqueFirm();
    const before = Date.now();
    const preview = await client().upsert({ firmId, ...ANN, city: "Oslo", validateOnly: true });
    expect(preview.result).toBe(UpsertResult.CREATED);
    expect(preview.matchedBy).toBe(MatchKey.UNSPECIFIED);
    expect(preview.changedFields?.paths).toEqual(["tracking_id", "email", "first_name", "last_name", "city"]);
    expect(preview.contact).toMatchObject({ firmId, ...ANN, city: "Oslo" });
    expect(preview.contact?.id).toMatch(/^[0-9a-f-]{36}$/);
    // The firm's next commit time as of the preview: create and update time equal, not before the call.
    const created = millis(preview.contact?.createTime);
    expect(created).toBeGreaterThanOrEqual(before - 1000);
    expect(preview.contact?.updateTime).toEqual(preview.contact?.createTime);
    expect(await snapshot(firmId)).toEqual({ contacts: [], clock: [], assignments: [], history: [] });

    const real = await client().upsert({ firmId, ...ANN, city: "Oslo" });
    expect(real.result).toBe(UpsertResult.CREATED);
    expect(real.changedFields).toEqual(preview.changedFields);
    expect(real.contact?.id).not.toBe(preview.contact?.id); // a preview reserves no id
  });

  it("previews an update: fields, matched key and new update time shown, the stored row unchanged", async () => {
    const firmId = uniqueFirm();
    const stored = await client().upsert({ firmId, ...ANN });
    const before = await snapshot(firmId);
    const preview = await client().upsert({
      firmId,
      trackingId: "T-1",
      lastName: "Lee-Smith",
      note: "vip",
      validateOnly: true,
    });
    expect(preview.result).toBe(UpsertResult.UPDATED);
    expect(preview.matchedBy).toBe(MatchKey.TRACKING_ID);
    expect(preview.changedFields?.paths).toEqual(["last_name", "note"]);
    expect(preview.contact).toMatchObject({ id: stored.contact?.id, lastName: "Lee-Smith", note: "vip" });
    expect(preview.contact?.createTime).toEqual(stored.contact?.createTime);
    const previewed = millis(preview.contact?.updateTime);
    const storedTime = millis(stored.contact?.updateTime);
    expect(previewed).toBeGreaterThan(storedTime);
    expect(await snapshot(firmId)).toEqual(before);

    // By email too, and the real call then answers the same fields and key.
    const byEmail = await client().upsert({
      firmId,
      email: "ANN@example.com",
      city: "Lyon",
      validateOnly: true,
    });
    expect(byEmail.matchedBy).toBe(MatchKey.EMAIL);
    expect(byEmail.changedFields?.paths).toEqual(["city"]);
    expect(await snapshot(firmId)).toEqual(before);
    const real = await client().upsert({ firmId, trackingId: "T-1", lastName: "Lee-Smith", note: "vip" });
    expect(real.changedFields).toEqual(preview.changedFields);
    expect(real.matchedBy).toBe(preview.matchedBy);
  });

  it("reads with the real call's locks: a preview waits for a transaction holding the contact", async () => {
    const firmId = uniqueFirm();
    await client().upsert({ firmId, ...ANN });
    const holder = await openTestConnection();
    try {
      await holder.query("START TRANSACTION");
      await holder.query("SELECT id FROM contacts WHERE firm_id = ? FOR UPDATE", [firmId]);
      const waited = await failure(
        client().upsert({ firmId, trackingId: "T-1", city: "Oslo", validateOnly: true }, { timeoutMs: 300 }),
      );
      expect(waited.code).toBe("DEADLINE_EXCEEDED");
      await holder.query("ROLLBACK");
    } finally {
      await holder.end();
    }
    const preview = await client().upsert({ firmId, trackingId: "T-1", city: "Oslo", validateOnly: true });
    expect(preview.changedFields?.paths).toEqual(["city"]);
  });

  it("previews an update that changes nothing with the stored times", async () => {
    const firmId = uniqueFirm();
    const stored = await client().upsert({ firmId, ...ANN });
    const preview = await client().upsert({ firmId, ...ANN, validateOnly: true });
    expect(preview.result).toBe(UpsertResult.UPDATED);
    expect(preview.changedFields?.paths).toEqual([]);
    expect(preview.contact).toEqual(stored.contact);
  });

  it("previews the errors a real call gets: ALREADY_EXISTS with its ErrorInfo, INVALID_ARGUMENT", async () => {
    const firmId = uniqueFirm();
    const holder = await client().upsert({ firmId, ...ANN });
    const before = await snapshot(firmId);
    const taken = await failure(client().upsert({ firmId, ...ANN, trackingId: "T-2", validateOnly: true }));
    expect(taken.code).toBe("ALREADY_EXISTS");
    expect(taken.info).toEqual({
      reason: "EMAIL_TAKEN",
      metadata: { contactId: holder.contact?.id, field: "email" },
    });
    const missingNames = await failure(
      client().upsert({ firmId, trackingId: "T-3", email: "bob@example.com", validateOnly: true }),
    );
    expect(missingNames.code).toBe("INVALID_ARGUMENT");
    expect(missingNames.fields).toEqual(["firstName", "lastName"]);
    const bad = await failure(client().upsert({ firmId, email: "nope", validateOnly: true }));
    expect(bad.code).toBe("INVALID_ARGUMENT");
    expect(bad.fields).toEqual(["email"]);
    expect(await snapshot(firmId)).toEqual(before);
  });
});

describe.each([0, 1])("validate_only on BatchUpsertContacts (client %i)", (index) => {
  const batch = () => (clients[index] as [UpsertClient, BatchClient])[1];

  it("previews every item in order, items sharing a key included, and writes nothing", async () => {
    const firmId = uniqueFirm();
    await batch().batch({ firmId, requests: [{ ...ANN, trackingId: "T-0", email: "old@example.com" }] });
    const before = await snapshot(firmId);
    const requests = [
      ANN,
      { trackingId: "T-1", city: "Oslo" },
      { email: "ann@EXAMPLE.com", note: "by email" },
      { trackingId: "T-9", email: "old@example.com", firstName: "X", lastName: "Y" },
      { trackingId: "T-0", phone: "1" },
    ];
    const preview = await batch().batch({ firmId, validateOnly: true, requests });
    expect(await snapshot(firmId)).toEqual(before);
    const results = preview.results.map((r) => (r.outcome.case === "response" ? r.outcome.value : undefined));
    expect(results.map((r) => r?.result)).toEqual([
      UpsertResult.CREATED,
      UpsertResult.UPDATED,
      UpsertResult.UPDATED,
      undefined,
      UpsertResult.UPDATED,
    ]);
    expect(results[1]?.contact?.id).toBe(results[0]?.contact?.id);
    expect(results[2]?.contact).toMatchObject({
      id: results[0]?.contact?.id,
      city: "Oslo",
      note: "by email",
    });
    expect(results[2]?.matchedBy).toBe(MatchKey.EMAIL);
    expect(itemError(preview.results[3])?.errorInfo?.reason).toBe("EMAIL_TAKEN");
    expect(results[4]?.changedFields?.paths).toEqual(["phone"]);

    // The real batch answers the same, item by item (ids and times aside).
    const real = await batch().batch({ firmId, requests });
    const strip = (r: (typeof preview.results)[number]) =>
      r.outcome.case === "response"
        ? {
            result: r.outcome.value.result,
            matched: r.outcome.value.matchedBy,
            changed: r.outcome.value.changedFields?.paths,
          }
        : itemError(r);
    expect(real.results.map(strip)).toEqual(preview.results.map(strip));
  });

  it("honours all_or_none: the failing item's error, ABORTED for the others, nothing written", async () => {
    const firmId = uniqueFirm();
    const preview = await batch().batch({
      firmId,
      validateOnly: true,
      allOrNone: true,
      requests: [ANN, { email: "nope" }],
    });
    expect(preview.results.map((r) => itemError(r)?.code)).toEqual(["ABORTED", "INVALID_ARGUMENT"]);
    expect(await snapshot(firmId)).toEqual({ contacts: [], clock: [], assignments: [], history: [] });
  });

  it("fails an item that sets its own validate_only or request_id, naming the field", async () => {
    const firmId = uniqueFirm();
    const answer = await batch().batch({
      firmId,
      requests: [
        { ...ANN, validateOnly: true },
        { ...ANN, trackingId: "T-2", email: "b@example.com", requestId: "r-1" },
        { ...ANN, trackingId: "T-3", email: "c@example.com" },
      ],
    });
    expect(answer.results.map((r) => itemError(r)?.fields)).toEqual([
      ["validateOnly"],
      ["requestId"],
      undefined,
    ]);
    const rows = await sql<{ tracking_id: string }>("SELECT tracking_id FROM contacts WHERE firm_id = ?", [
      firmId,
    ]);
    expect(rows.map((r) => r.tracking_id)).toEqual(["T-3"]);
  });
});

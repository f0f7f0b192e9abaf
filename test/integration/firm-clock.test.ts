import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.js";
import { type BatchClient, grpcJsBatchClient } from "../support/batch-clients.js";
import { grpcJsClient, type UpsertClient } from "../support/clients.js";
import { closeSqlPool, sql, uniqueFirm } from "../support/database.js";

// The firm clock's step (src/db/firm-clock.ts): each commit of a firm takes GREATEST(now, last + 1 ms), so two
// commits never share a time and incremental sync cannot miss one. With the firm's clock set an hour ahead of
// the wall clock, every tick is exactly the previous one plus 1 ms, whatever the write: the tests expect
// T + 1 and T + 2 for two consecutive writes of each kind.

let app: TestApp;
let client: UpsertClient;
let batch: BatchClient;
beforeAll(async () => {
  app = await startTestApp();
  client = grpcJsClient(app.url);
  batch = grpcJsBatchClient(app.url);
});
afterAll(async () => {
  client?.close();
  batch?.close();
  await app?.close();
  await closeSqlPool();
});

const ms = (t: Timestamp | undefined) => (t ? timestampDate(t).getTime() : Number.NaN);

/** Sets the firm's clock an hour ahead of the database's wall clock and returns that time (ms). */
async function clockAhead(firmId: string): Promise<number> {
  const ahead = "UTC_TIMESTAMP(3) + INTERVAL 1 HOUR";
  await sql(
    `INSERT INTO firm_clocks (firm_id, last_time) VALUES (?, ${ahead}) ON DUPLICATE KEY UPDATE last_time = ${ahead}`,
    [firmId],
  );
  const [row] = await sql<{ last_time: Date }>("SELECT last_time FROM firm_clocks WHERE firm_id = ?", [
    firmId,
  ]);
  return (row as { last_time: Date }).last_time.getTime();
}

async function clockOf(firmId: string): Promise<number> {
  const [row] = await sql<{ last_time: Date }>("SELECT last_time FROM firm_clocks WHERE firm_id = ?", [
    firmId,
  ]);
  return (row as { last_time: Date }).last_time.getTime();
}

const person = (firmId: string, i: number) => ({
  firmId,
  trackingId: `T${i}`,
  email: `c${i}@example.com`,
  firstName: "F",
  lastName: `${i}`,
});

describe("the firm clock steps 1 ms past its last tick when it runs ahead of the wall clock", () => {
  it("two upserts: the second's update_time is the first's plus 1 ms", async () => {
    const firmId = uniqueFirm("clock-upsert");
    const t = await clockAhead(firmId);
    const created = await client.upsert(person(firmId, 1));
    expect(ms(created.contact?.createTime) - t).toBe(1);
    expect(ms(created.contact?.updateTime) - t).toBe(1);
    const updated = await client.upsert({ firmId, trackingId: "T1", city: "Oslo" });
    expect(ms(updated.contact?.updateTime) - t).toBe(2);
    const [row] = await sql<{ update_time: Date }>("SELECT update_time FROM contacts WHERE firm_id = ?", [
      firmId,
    ]);
    expect((row as { update_time: Date }).update_time.getTime() - t).toBe(2);
    expect((await clockOf(firmId)) - t).toBe(2);
  });

  it("two batches: every item of one batch has its tick, the next batch's is 1 ms later", async () => {
    const firmId = uniqueFirm("clock-batch");
    const t = await clockAhead(firmId);
    const first = await batch.batch({ firmId, requests: [1, 2, 3].map((i) => person(firmId, i)) });
    expect(
      first.results.map((r) => r.outcome.case === "response" && ms(r.outcome.value.contact?.updateTime) - t),
    ).toEqual([1, 1, 1]);
    const second = await batch.batch({
      firmId,
      requests: [
        { trackingId: "T1", city: "Oslo" },
        { trackingId: "T3", city: "Rome" },
      ],
    });
    expect(
      second.results.map((r) => r.outcome.case === "response" && ms(r.outcome.value.contact?.updateTime) - t),
    ).toEqual([2, 2]);
    const rows = await sql<{ tracking_id: string; update_time: Date }>(
      "SELECT tracking_id, update_time FROM contacts WHERE firm_id = ? ORDER BY tracking_id",
      [firmId],
    );
    expect(rows.map((r) => [r.tracking_id, r.update_time.getTime() - t])).toEqual([
      ["T1", 2],
      ["T2", 1],
      ["T3", 2],
    ]);
  });

  it("two UpdateContact calls: the second's update_time is the first's plus 1 ms", async () => {
    const firmId = uniqueFirm("clock-update");
    const { contact } = await client.upsert(person(firmId, 1));
    const id = contact?.id as string;
    const t = await clockAhead(firmId);
    const first = await client.update({
      firmId,
      contact: { id, city: "Oslo" },
      updateMask: { paths: ["city"] },
    });
    expect(ms(first.contact?.updateTime) - t).toBe(1);
    const second = await client.update({
      firmId,
      contact: { id, note: "n" },
      updateMask: { paths: ["note"] },
    });
    expect(ms(second.contact?.updateTime) - t).toBe(2);
    expect((await clockOf(firmId)) - t).toBe(2);
  });

  it("two deletions: the second's delete_time is the first's plus 1 ms", async () => {
    const firmId = uniqueFirm("clock-delete");
    const ids: string[] = [];
    for (const i of [1, 2]) ids.push((await client.upsert(person(firmId, i))).contact?.id as string);
    const t = await clockAhead(firmId);
    for (const id of ids) await client.delete({ firmId, id });
    const rows = await sql<{ id: string; update_time: Date; delete_time: Date }>(
      "SELECT id, update_time, delete_time FROM contact_tombstones WHERE firm_id = ?",
      [firmId],
    );
    const byId = new Map(rows.map((r) => [r.id, [r.update_time.getTime() - t, r.delete_time.getTime() - t]]));
    expect(ids.map((id) => byId.get(id))).toEqual([
      [1, 1],
      [2, 2],
    ]);
    const listed = await client.list({ firmId, showDeleted: true });
    expect(listed.contacts.map((c) => [c.id, ms(c.deleteTime) - t])).toEqual([
      [ids[0], 1],
      [ids[1], 2],
    ]);
  });

  it("an assignment then an unassignment: the second's update_time is the first's plus 1 ms", async () => {
    const firmId = uniqueFirm("clock-assign");
    const { contact } = await client.upsert(person(firmId, 1));
    const contactId = contact?.id as string;
    const t = await clockAhead(firmId);
    const assigned = await client.assign({ firmId, contactId, clientIds: ["c-1"] });
    expect(ms(assigned.contact?.updateTime) - t).toBe(1);
    const unassigned = await client.unassign({ firmId, contactId, clientIds: ["c-1"] });
    expect(ms(unassigned.contact?.updateTime) - t).toBe(2);
    const changes = await client.changes({ firmId, contactId });
    expect(changes.changes.slice(0, 2).map((c) => ms(c.changeTime) - t)).toEqual([2, 1]);
  });
});

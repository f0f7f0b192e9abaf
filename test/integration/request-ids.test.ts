import { setTimeout as sleep } from "node:timers/promises";
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UpsertResult } from "../../gen/contacts/v1/contact_service_pb.js";
import { purgeRequestOutcomeBatch } from "../../src/db/request-outcomes.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { type BatchClient, clientPairs, closeClientPairs, itemError } from "../support/batch-clients.js";
import { failure, type UpsertClient } from "../support/clients.js";
import { closeSqlPool, openTestConnection, sql, uniqueFirm } from "../support/database.js";

// request_id: the first outcome of an id is kept per firm; a retry with the same request gets it again and
// writes nothing; concurrent duplicates never write twice.

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

const millis = (time: Timestamp | undefined) => (time ? timestampDate(time).getTime() : Number.NaN);

const ANN = { trackingId: "T-1", email: "ann@example.com", firstName: "Ann", lastName: "Lee" };

const contactCount = async (firmId: string) =>
  (await sql<{ n: number }>("SELECT COUNT(*) AS n FROM contacts WHERE firm_id = ?", [firmId]))[0]?.n;
const clockOf = async (firmId: string) =>
  (await sql<{ t: Date }>("SELECT last_time AS t FROM firm_clocks WHERE firm_id = ?", [firmId]))[0]?.t;
const outcomes = (firmId: string) =>
  sql<{ request_id: Buffer; tick: Date | null }>(
    "SELECT request_id, tick FROM request_outcomes WHERE firm_id = ? ORDER BY request_id",
    [firmId],
  );

describe.each([0, 1])("request_id on UpsertContact (client %i)", (index) => {
  const client = () => (clients[index] as [UpsertClient, BatchClient])[0];
  const other = () => (clients[1 - index] as [UpsertClient, BatchClient])[0];

  it("a retry gets the first answer, CREATED with the same contact and times, and writes nothing", async () => {
    const firmId = uniqueFirm();
    const first = await client().upsert({ firmId, ...ANN, requestId: "r-1" });
    const clock = await clockOf(firmId);
    const retry = await client().upsert({ firmId, ...ANN, requestId: "r-1" });
    expect(retry).toEqual(first);
    expect(retry.result).toBe(UpsertResult.CREATED);
    // The same request over the other protocol is the same request.
    expect(await other().upsert({ firmId, ...ANN, requestId: "r-1" })).toEqual(first);
    expect(await contactCount(firmId)).toBe(1);
    expect(await clockOf(firmId)).toEqual(clock);
    // Without an id the same payload is an ordinary call: an update that changes nothing.
    const plain = await client().upsert({ firmId, ...ANN });
    expect(plain.result).toBe(UpsertResult.UPDATED);
  });

  it("20 concurrent duplicates write once and all get the same answer", async () => {
    const firmId = uniqueFirm();
    const callers = Array.from({ length: 20 }, (_, i) =>
      (i % 2 === 0 ? client() : other()).upsert({ firmId, ...ANN, note: "n", requestId: "dup" }),
    );
    const answers = await Promise.all(callers);
    expect(await contactCount(firmId)).toBe(1);
    expect((await outcomes(firmId)).length).toBe(1);
    for (const answer of answers) expect(answer).toEqual(answers[0]);
    expect(answers[0]?.result).toBe(UpsertResult.CREATED);
    const [row] = await sql<{ update_time: Date }>("SELECT update_time FROM contacts WHERE firm_id = ?", [
      firmId,
    ]);
    expect(millis(answers[0]?.contact?.updateTime)).toBe(row?.update_time.getTime());
  });

  it("a reply lost after the server committed is CREATED again on retry", async () => {
    const firmId = uniqueFirm();
    await client().upsert({ firmId, ...ANN, trackingId: "T-0", email: "zed@example.com" }); // the firm's clock row
    // Hold the firm's clock: the call's commit round trip waits on it past the client's deadline, then commits.
    const holder = await openTestConnection();
    try {
      await holder.query("START TRANSACTION");
      await holder.query("SELECT last_time FROM firm_clocks WHERE firm_id = ? FOR UPDATE", [firmId]);
      const lost = await failure(client().upsert({ firmId, ...ANN, requestId: "lost" }, { timeoutMs: 500 }));
      expect(["DEADLINE_EXCEEDED", "CANCELLED"]).toContain(lost.code);
      await holder.query("COMMIT");
    } finally {
      await holder.end();
    }
    for (let i = 0; i < 100 && (await contactCount(firmId)) !== 2; i++) await sleep(50);
    expect(await contactCount(firmId)).toBe(2); // the first call did commit
    const retry = await client().upsert({ firmId, ...ANN, requestId: "lost" });
    expect(retry.result).toBe(UpsertResult.CREATED);
    expect(retry.changedFields?.paths).toEqual(["tracking_id", "email", "first_name", "last_name"]);
    const [stored] = await sql<{ id: string; create_time: Date }>(
      "SELECT id, create_time FROM contacts WHERE firm_id = ? AND tracking_id = 'T-1'",
      [firmId],
    );
    expect(retry.contact?.id).toBe(stored?.id);
    expect(millis(retry.contact?.createTime)).toBe(stored?.create_time.getTime());
    expect(await contactCount(firmId)).toBe(2);
  });

  it("the same id with a different request is INVALID_ARGUMENT naming requestId, and writes nothing", async () => {
    const firmId = uniqueFirm();
    await client().upsert({ firmId, ...ANN, requestId: "r-1" });
    const clock = await clockOf(firmId);
    const reused = await failure(client().upsert({ firmId, ...ANN, city: "Oslo", requestId: "r-1" }));
    expect(reused.code).toBe("INVALID_ARGUMENT");
    expect(reused.fields).toEqual(["requestId"]);
    const rows = await sql("SELECT city FROM contacts WHERE firm_id = ?", [firmId]);
    expect(rows).toEqual([{ city: null }]);
    expect(await clockOf(firmId)).toEqual(clock);
  });

  it("a stored ALREADY_EXISTS is returned again even after the email was freed", async () => {
    const firmId = uniqueFirm();
    const holder = await client().upsert({ firmId, ...ANN });
    const request = { firmId, ...ANN, trackingId: "T-2", requestId: "taken" };
    const first = await failure(client().upsert(request));
    expect(first.code).toBe("ALREADY_EXISTS");
    expect(first.info?.metadata.contactId).toBe(holder.contact?.id);
    expect((await outcomes(firmId)).map((o) => o.tick)).toEqual([null]); // stored without ticking the clock
    await client().delete({ firmId, id: holder.contact?.id ?? "" });
    expect(await failure(client().upsert(request))).toEqual(first);
    expect(await contactCount(firmId)).toBe(0);
  });

  it("a retry of an update that changed nothing answers it again; neither call ticks the clock", async () => {
    const firmId = uniqueFirm();
    await client().upsert({ firmId, ...ANN });
    const clock = await clockOf(firmId);
    const first = await client().upsert({ firmId, ...ANN, requestId: "noop" });
    expect(first.changedFields?.paths).toEqual([]);
    expect(await client().upsert({ firmId, ...ANN, requestId: "noop" })).toEqual(first);
    expect(await clockOf(firmId)).toEqual(clock);
  });

  it("ids are per firm: the same id in two firms is two requests", async () => {
    const [a, b] = [uniqueFirm(), uniqueFirm()];
    const inA = await client().upsert({ firmId: a, ...ANN, requestId: "same" });
    const inB = await client().upsert({ firmId: b, ...ANN, city: "Oslo", requestId: "same" });
    expect(inA.result).toBe(UpsertResult.CREATED);
    expect(inB.result).toBe(UpsertResult.CREATED);
    expect(inB.contact?.city).toBe("Oslo");
    expect(await contactCount(a)).toBe(1);
    expect(await contactCount(b)).toBe(1);
  });

  it("rejects an empty or over-long id naming requestId; 64 characters of 4 bytes fit", async () => {
    const firmId = uniqueFirm();
    for (const requestId of ["", "x".repeat(65), "a\nb"]) {
      const bad = await failure(client().upsert({ firmId, ...ANN, requestId }));
      expect(bad.code).toBe("INVALID_ARGUMENT");
      expect(bad.fields).toEqual(["requestId"]);
    }
    expect(await contactCount(firmId)).toBe(0);
    const long = "😀".repeat(64);
    const first = await client().upsert({ firmId, ...ANN, requestId: long });
    expect(await client().upsert({ firmId, ...ANN, requestId: long })).toEqual(first);
    // Compared exactly: a trailing space makes another id.
    const spaced = await client().upsert({ firmId, ...ANN, requestId: `${long.slice(0, 2)} ` });
    expect(spaced.result).toBe(UpsertResult.UPDATED);
  });

  it("a dry run neither consults nor consumes an id", async () => {
    const firmId = uniqueFirm();
    const preview = await client().upsert({ firmId, ...ANN, requestId: "d", validateOnly: true });
    expect(preview.result).toBe(UpsertResult.CREATED);
    expect(await outcomes(firmId)).toEqual([]);
    const real = await client().upsert({ firmId, ...ANN, requestId: "d" });
    expect(real.result).toBe(UpsertResult.CREATED);
    const again = await client().upsert({ firmId, ...ANN, requestId: "d", validateOnly: true });
    expect(again.result).toBe(UpsertResult.UPDATED); // previews what a new call would do, not the stored answer
  });

  it("expired ids are purged, then the id is free again; unexpired ones stay", async () => {
    const firmId = uniqueFirm();
    await client().upsert({ firmId, ...ANN, requestId: "old" });
    await client().upsert({ firmId, ...ANN, trackingId: "T-2", email: "b@example.com", requestId: "new" });
    const [row] = await sql<{ hours: number }>(
      "SELECT TIMESTAMPDIFF(MINUTE, UTC_TIMESTAMP(3), expire_time) AS hours FROM request_outcomes WHERE firm_id = ? AND request_id = 'new'",
      [firmId],
    );
    expect(row?.hours).toBeGreaterThan(23 * 60); // REQUEST_ID_TTL_HOURS: 24 by default
    await sql(
      "UPDATE request_outcomes SET expire_time = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND WHERE firm_id = ? AND request_id = 'old'",
      [firmId],
    );
    while ((await purgeRequestOutcomeBatch(sql, 100)) > 0);
    expect((await outcomes(firmId)).map((o) => o.request_id.toString())).toEqual(["new"]);
    const reused = await client().upsert({ firmId, ...ANN, city: "Oslo", requestId: "old" });
    expect(reused.result).toBe(UpsertResult.UPDATED);
    expect(reused.changedFields?.paths).toEqual(["city"]);
  });
});

describe.each([0, 1])("request_id on BatchUpsertContacts (client %i)", (index) => {
  const batch = () => (clients[index] as [UpsertClient, BatchClient])[1];
  const single = () => (clients[index] as [UpsertClient, BatchClient])[0];

  it("a retry gets the first batch's results and writes nothing; another batch with the id is refused", async () => {
    const firmId = uniqueFirm();
    const requests = [ANN, { trackingId: "T-1", city: "Oslo" }, { email: "nope" }];
    const first = await batch().batch({ firmId, requestId: "b-1", requests });
    const clock = await clockOf(firmId);
    expect(await batch().batch({ firmId, requestId: "b-1", requests })).toEqual(first);
    expect(
      first.results.map((r) => (r.outcome.case === "response" ? r.outcome.value.result : itemError(r)?.code)),
    ).toEqual([UpsertResult.CREATED, UpsertResult.UPDATED, "INVALID_ARGUMENT"]);
    expect(await clockOf(firmId)).toEqual(clock);
    expect(await contactCount(firmId)).toBe(1);
    const other = await failure(batch().batch({ firmId, requestId: "b-1", requests: requests.slice(0, 2) }));
    expect(other.code).toBe("INVALID_ARGUMENT");
    // A single call is another request too.
    expect((await failure(single().upsert({ firmId, ...ANN, requestId: "b-1" }))).code).toBe(
      "INVALID_ARGUMENT",
    );
  });

  it("20 concurrent duplicate batches write once and all get the same results", async () => {
    const firmId = uniqueFirm();
    const requests = [ANN, { ...ANN, trackingId: "T-2", email: "b@example.com" }];
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        batch().batch({ firmId, requestId: "dup", requests, allOrNone: true }),
      ),
    );
    for (const answer of answers) expect(answer).toEqual(answers[0]);
    expect(await contactCount(firmId)).toBe(2);
  });
});

import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, createClient } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ContactChange, ContactService } from "../../gen/contacts/v1/contact_service_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { grpcJsClient, type UpsertClient } from "../support/clients.js";
import { sql, uniqueFirm } from "../support/database.js";
import {
  connectWatch,
  grpcJsWatch,
  replay,
  replicaOf,
  type TestWatch,
  type WatchInit,
} from "../support/watch.js";

// WatchContactChanges on one in-process instance, over grpc-js, connect-node's gRPC (h2c) and Connect JSON over
// HTTP/1.1. Heartbeats are short here so that quiet streams show them.

let app: TestApp;
let client: ReturnType<typeof grpcJsClient>;
let connect: Client<typeof ContactService>;
beforeAll(async () => {
  app = await startTestApp({ FEED_HEARTBEAT_MS: "300" });
  client = grpcJsClient(app.url);
  connect = createClient(ContactService, createGrpcTransport({ baseUrl: app.url }));
});
afterAll(async () => {
  client?.close();
  await app?.close();
});

type Opener = (request: WatchInit) => TestWatch;
const openers = (): [string, Opener][] => [
  ["grpc-js", (request) => grpcJsWatch(client.raw, request)],
  ["connect-node gRPC h2c", (request) => connectWatch(createGrpcTransport({ baseUrl: app.url }), request)],
  [
    "Connect JSON HTTP/1.1",
    (request) =>
      connectWatch(
        createConnectTransport({ baseUrl: app.url, httpVersion: "1.1", useBinaryFormat: false }),
        request,
      ),
  ],
  [
    "gRPC-Web HTTP/1.1",
    (request) => connectWatch(createGrpcWebTransport({ baseUrl: app.url, httpVersion: "1.1" }), request),
  ],
];

/** A mix of every kind of write, one call after another; returns how many changes they make (one per call). */
async function writeMix(firmId: string, writer: UpsertClient, tag: string): Promise<number> {
  const a = await writer.upsert({ firmId, email: `a-${tag}@example.com`, firstName: "A", lastName: "One" });
  await writer.upsert({ firmId, email: `a-${tag}@example.com`, city: "Oslo" });
  const id = a.contact?.id as string;
  await writer.assign({ firmId, contactId: id, clientIds: ["c2", "c1"] });
  await writer.unassign({ firmId, contactId: id, clientIds: ["c1"] });
  const b = await writer.upsert({ firmId, email: `b-${tag}@example.com`, firstName: "B", lastName: "Two" });
  await writer.update({
    firmId,
    contact: { id: b.contact?.id, phone: "123", firstName: "Bee" },
    updateMask: { paths: ["phone", "first_name"] },
  });
  await writer.delete({ firmId, id: b.contact?.id as string });
  return 7;
}

/** One BatchUpsertContacts call creating `n` contacts: one transaction, so one tick. */
async function writeBatch(firmId: string, n: number, tag = "batch"): Promise<number> {
  const requests = Array.from({ length: n }, (_, i) => ({
    email: `${tag}-${i}-${Math.random()}@example.com`,
    firstName: "Batch",
    lastName: String(i),
  }));
  await connect.batchUpsertContacts({ firmId, requests });
  return n;
}

async function listAll(firmId: string) {
  const contacts = [];
  let pageToken = "";
  do {
    const page = await client.list({ firmId, pageToken, pageSize: 1000 });
    contacts.push(...page.contacts);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return contacts;
}

/** The firm's change rows in commit order, as (change time ms, contact, seq). */
async function storedOrder(firmId: string): Promise<string[]> {
  const rows = await sql<{ change_time: Date; contact_id: string; seq: number }>(
    "SELECT change_time, contact_id, seq FROM contact_changes WHERE firm_id = ? ORDER BY change_time, seq, contact_id",
    [firmId],
  );
  return rows.map((row) => `${row.change_time.getTime()}/${row.contact_id}`);
}
const orderOf = (changes: readonly ContactChange[]) =>
  changes.map((c) => {
    const ms = Number(c.changeTime?.seconds) * 1000 + Math.floor((c.changeTime?.nanos ?? 0) / 1e6);
    return `${ms}/${c.contactId}`;
  });

describe("WatchContactChanges", () => {
  it.each(openers())(
    "%s: every change once, in commit order, a transaction in one message; the replica equals the database",
    async (_name, open) => {
      const firmId = uniqueFirm("watch");
      const watch = open({ firmId });
      await watch.until((m) => m.length > 0, 5_000); // the first heartbeat: the watch is open
      const expected = (await writeMix(firmId, client, "x")) + (await writeBatch(firmId, 3));
      await watch.until((m) => m.flatMap((x) => x.changes).length >= expected, 5_000);
      const stored = await storedOrder(firmId);
      expect(orderOf(watch.changes())).toEqual(stored);
      // The batch's three changes share one tick and arrive in one message.
      const batchMessage = watch.messages.find((m) => m.changes.length === 3);
      expect(new Set(batchMessage?.changes.map((c) => c.changeTime?.nanos)).size).toBe(1);
      expect(watch.messages.every((m) => m.resumeToken !== "")).toBe(true);
      expect(replay(watch.changes())).toEqual(replicaOf(await listAll(firmId)));
      watch.cancel();
      expect(await watch.ended).toBeUndefined();
    },
  );

  it.each(openers().slice(0, 2))(
    "%s: resumed after a cancel with the last token, exactly the missed changes follow",
    async (_name, open) => {
      const firmId = uniqueFirm("resume");
      const first = open({ firmId });
      await first.until((m) => m.length > 0, 5_000);
      await writeMix(firmId, client, "before");
      await first.until((m) => m.flatMap((x) => x.changes).length >= 7, 5_000);
      first.cancel();
      await first.ended;
      const token = first.lastToken();
      const missed = (await writeMix(firmId, client, "while-away")) + (await writeBatch(firmId, 2));
      const second = open({ firmId, resumeToken: token, startTime: timestampFromMs(0) });
      await second.until((m) => m.flatMap((x) => x.changes).length >= missed, 5_000);
      await writeMix(firmId, client, "after");
      await second.until((m) => m.flatMap((x) => x.changes).length >= missed + 7, 5_000);
      const all = [...first.changes(), ...second.changes()];
      expect(orderOf(all)).toEqual(await storedOrder(firmId));
      expect(replay(all)).toEqual(replicaOf(await listAll(firmId)));
      second.cancel();
    },
  );

  it("list, then watch from the largest update_time: no change is missed", async () => {
    const firmId = uniqueFirm("listwatch");
    await writeMix(firmId, client, "old");
    const listed = await listAll(firmId);
    const largest = listed.reduce(
      (max, c) => Math.max(max, Number(c.updateTime?.seconds) * 1000 + (c.updateTime?.nanos ?? 0) / 1e6),
      0,
    );
    // Changes that commit between the list and the watch are in the watch.
    const between = await writeMix(firmId, client, "between");
    const watch = grpcJsWatch(client.raw, { firmId, startTime: timestampFromMs(largest) });
    await watch.until((m) => m.flatMap((x) => x.changes).length >= between, 5_000);
    await writeMix(firmId, client, "after");
    // Everything after the largest time the list showed comes: the list's own deletions included.
    const expected = (await storedOrder(firmId)).filter((entry) => Number(entry.split("/")[0]) > largest);
    expect(expected.length).toBeGreaterThan(2 * between);
    await watch.until((m) => m.flatMap((x) => x.changes).length >= expected.length, 5_000);
    expect(orderOf(watch.changes())).toEqual(expected);
    const copy = replay(watch.changes(), replicaOf(listed));
    expect(copy).toEqual(replicaOf(await listAll(firmId)));
    watch.cancel();
  });

  it("a start older than the history kept is OUT_OF_RANGE once the firm changed after it; a bad token is INVALID_ARGUMENT", async () => {
    const firmId = uniqueFirm("old");
    await writeMix(firmId, client, "x");
    const tooOld = Date.now() - 31 * 86_400_000; // TOMBSTONE_RETENTION_DAYS defaults to 30
    for (const [, open] of openers()) {
      const watch = open({ firmId, startTime: timestampFromMs(tooOld) });
      expect((await watch.ended)?.code).toBe("OUT_OF_RANGE");
    }
    // A firm that never changed since has lost nothing; neither has a watch from the firm's very start.
    const quiet = uniqueFirm("quiet");
    const fromOld = grpcJsWatch(client.raw, { firmId: quiet, startTime: timestampFromMs(tooOld) });
    const fromOrigin = grpcJsWatch(client.raw, { firmId, startTime: timestampFromMs(0) });
    await fromOld.until((m) => m.length > 0, 5_000);
    await fromOrigin.until((m) => m.flatMap((x) => x.changes).length >= 7, 5_000);
    fromOld.cancel();
    fromOrigin.cancel();
    const other = grpcJsWatch(client.raw, { firmId, resumeToken: "x".repeat(60) });
    expect(await other.ended).toMatchObject({ code: "INVALID_ARGUMENT", fields: ["resumeToken"] });
    // A token is bound to its firm.
    const elsewhere = grpcJsWatch(client.raw, { firmId: quiet, resumeToken: fromOrigin.lastToken() });
    expect(await elsewhere.ended).toMatchObject({ code: "INVALID_ARGUMENT", fields: ["resumeToken"] });
  });

  it("heartbeats: an empty message with a resume token every FEED_HEARTBEAT_MS while nothing changes", async () => {
    const firmId = uniqueFirm("beat");
    await writeMix(firmId, client, "x");
    const watch = connectWatch(createGrpcTransport({ baseUrl: app.url }), { firmId });
    await watch.until((m) => m.length >= 4, 5_000);
    expect(watch.messages.every((m) => m.changes.length === 0 && m.resumeToken !== "")).toBe(true);
    const gaps = watch.receivedAt.slice(1).map((t, i) => t - (watch.receivedAt[i] as number));
    expect(Math.min(...gaps)).toBeGreaterThan(200);
    expect(Math.max(...gaps)).toBeLessThan(1_000);
    watch.cancel();
    // Resuming from a heartbeat's token: exactly what changed after it.
    await client.upsert({ firmId, email: "late@example.com", firstName: "L", lastName: "T" });
    const resumed = grpcJsWatch(client.raw, { firmId, resumeToken: watch.lastToken() });
    await resumed.until((m) => m.flatMap((x) => x.changes).length >= 1, 5_000);
    await resumed.until((m) => m.length >= 2, 5_000);
    expect(resumed.changes().map((c) => c.fields.find((f) => f.field === "email")?.newValue)).toEqual([
      "late@example.com",
    ]);
    resumed.cancel();
  });

  it("latency on the same instance: p99 from the writer's answer to the watcher's receipt under 100 ms", async () => {
    const firmId = uniqueFirm("latency");
    const watch = grpcJsWatch(client.raw, { firmId });
    await watch.until((m) => m.length > 0, 5_000);
    const delays: number[] = [];
    for (let i = 0; i < 100; i++) {
      await client.upsert({ firmId, email: `l${i}@example.com`, firstName: "L", lastName: String(i) });
      const answered = performance.now();
      await watch.until((m) => m.flatMap((x) => x.changes).length >= i + 1, 5_000);
      delays.push(performance.now() - answered);
    }
    delays.sort((a, b) => a - b);
    const p50 = delays[49] as number;
    const p99 = delays[98] as number;
    console.log(`watch latency, same instance: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`);
    expect(p99).toBeLessThan(100);
    watch.cancel();
  });
});

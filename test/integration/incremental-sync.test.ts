import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Contact } from "../../gen/contacts/v1/contact_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { connectProtoH2, grpcJsClient, type UpsertClient } from "../support/clients.js";
import { closeSqlPool, sql, uniqueFirm } from "../support/database.js";
import { type ServerProcess, spawnServer } from "../support/server-process.js";

// The incremental-sync guarantee: a reader that pages with updated_after = the largest update_time it has seen,
// while several instances write (two server processes and this one), ends up with exactly the database's
// contents once the writers stop: every change comes back in its latest state, every deletion once.

const WRITE_SECONDS = Number(process.env.SYNC_WRITE_SECONDS ?? 5);
const KEYS = 40;

let servers: ServerProcess[];
let app: TestApp;
beforeAll(async () => {
  [app, ...servers] = await Promise.all([startTestApp(), spawnServer(), spawnServer()]);
});
afterAll(async () => {
  await Promise.all([app?.close(), ...(servers ?? []).map((server) => server.stop())]);
  await closeSqlPool();
});

const time = (t: Timestamp | undefined) => (t ? timestampDate(t).getTime() : Number.NaN);

/** One writer: random upserts, updates, assignments and deletes on a shared set of keys, until `until`. */
async function writer(client: UpsertClient, firmId: string, until: number, ids: string[]) {
  let ok = 0;
  let refused = 0;
  while (Date.now() < until) {
    const key = Math.floor(Math.random() * KEYS);
    const roll = Math.random();
    const known = ids[Math.floor(Math.random() * ids.length)];
    try {
      if (roll < 0.5 || known === undefined) {
        const { contact } = await client.upsert({
          firmId,
          trackingId: `k-${key}`,
          email: `k-${key}-${Math.floor(Math.random() * 3)}@example.com`,
          firstName: "F",
          lastName: "L",
          city: `c-${Math.random()}`,
        });
        if (contact) ids.push(contact.id);
      } else if (roll < 0.7) {
        await client.update({
          firmId,
          contact: { id: known, note: `n-${Math.random()}` },
          updateMask: { paths: ["note"] },
        });
      } else if (roll < 0.85) {
        await client.assign({ firmId, contactId: known, clientIds: [`c-${key}`] });
      } else {
        await client.delete({ firmId, id: known });
      }
      ok++;
    } catch {
      // NOT_FOUND (deleted by another writer), ALREADY_EXISTS (email held under another key): allowed outcomes.
      refused++;
    }
  }
  return { ok, refused };
}

describe("incremental sync with ListContacts", () => {
  it("a reader paging with updated_after while three instances write ends with the database's contents", {
    timeout: 120_000,
  }, async () => {
    const firmId = uniqueFirm("sync");
    const writers = [
      grpcJsClient(servers[0]?.url ?? ""),
      connectProtoH2(servers[0]?.url ?? ""),
      grpcJsClient(servers[1]?.url ?? ""),
      connectProtoH2(servers[1]?.url ?? ""),
      grpcJsClient(app.url),
      connectProtoH2(app.url),
    ];
    const reader = grpcJsClient(app.url);
    const seen = new Map<string, Contact>();
    let largest: Timestamp | undefined;
    let passes = 0;
    let pages = 0;
    const pass = async () => {
      // A pass keeps its updated_after (its page tokens are bound to it); the next pass starts after the largest seen.
      const updatedAfter = largest;
      let pageToken = "";
      do {
        const page = await reader.list({
          firmId,
          updatedAfter,
          showDeleted: true,
          pageSize: 10,
          pageToken,
        });
        for (const contact of page.contacts) {
          const previous = seen.get(contact.id);
          // Within a firm the list is in update_time order, and a contact only ever moves forward in it.
          if (previous) expect(time(contact.updateTime)).toBeGreaterThanOrEqual(time(previous.updateTime));
          seen.set(contact.id, contact);
        }
        const last = page.contacts[page.contacts.length - 1];
        if (last && time(last.updateTime) > time(largest)) largest = last.updateTime;
        if (last && largest === undefined) largest = last.updateTime;
        pageToken = page.nextPageToken;
        pages++;
      } while (pageToken !== "");
      passes++;
    };

    const ids: string[] = [];
    for (let key = 0; key < KEYS; key += 2) {
      const { contact } = await reader.upsert({
        firmId,
        trackingId: `k-${key}`,
        email: `seed-${key}@example.com`,
        firstName: "F",
        lastName: "L",
      });
      if (contact) ids.push(contact.id);
    }
    const until = Date.now() + WRITE_SECONDS * 1000;
    const writing = Promise.all(writers.map((client) => writer(client, firmId, until, ids)));
    let done = false;
    void writing.finally(() => {
      done = true;
    });
    while (!done) await pass();
    const tallies = await writing;
    await pass(); // "in this pass or the next": one pass after the last write has committed.

    const writes = tallies.reduce((sum, t) => sum + t.ok, 0);
    expect(writes).toBeGreaterThan(50);
    expect(passes).toBeGreaterThanOrEqual(2);
    expect(pages).toBeGreaterThan(passes);

    const live = await sql<{ id: string; update_time: Date; city: string; note: string | null }>(
      "SELECT id, update_time, city, note FROM contacts WHERE firm_id = ? ORDER BY id",
      [firmId],
    );
    const assigned = await sql<{ contact_id: string; ref_id: string }>(
      "SELECT contact_id, ref_id FROM contact_assignments WHERE firm_id = ? ORDER BY contact_id, ref_id",
      [firmId],
    );
    const deleted = await sql<{ id: string }>("SELECT id FROM contact_tombstones WHERE firm_id = ?", [
      firmId,
    ]);
    expect(deleted.length).toBeGreaterThan(0);

    const readerLive = [...seen.values()]
      .filter((c) => c.deleteTime === undefined)
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(
      readerLive.map((c) => ({
        id: c.id,
        update_time: new Date(time(c.updateTime)),
        city: c.city ?? null,
        note: c.note ?? null,
      })),
    ).toEqual(live);
    expect(readerLive.flatMap((c) => c.clientIds.map((ref_id) => ({ contact_id: c.id, ref_id })))).toEqual(
      assigned,
    );
    // Every deletion the reader saw is really gone; every stored tombstone of a contact it had seen alive reached it.
    const deletedIds = new Set(deleted.map((r) => r.id));
    for (const contact of seen.values()) {
      if (contact.deleteTime !== undefined) expect(deletedIds.has(contact.id)).toBe(true);
    }
    console.log(
      `incremental sync: ${writes} writes by ${writers.length} writers on 3 instances in ${WRITE_SECONDS}s; reader: ${passes} passes, ${pages} pages; ${live.length} live, ${deleted.length} deleted`,
    );
    for (const client of [...writers, reader]) client.close();
  });
});

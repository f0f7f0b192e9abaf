import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UpsertResult } from "../../gen/contacts/v1/contact_service_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { connectJsonH1, failure, grpcJsClient, type UpsertClient } from "../support/clients.js";
import { closeSqlPool, sql, uniqueFirm } from "../support/database.js";

// Over the wire, with one database connection so that concurrent calls have to wait and coalesce: every call
// still gets its own answer (created or updated, its own conflict), the table holds what the calls wrote, and a
// call that finds the connection free runs alone.

let app: TestApp;
let clients: UpsertClient[];
beforeAll(async () => {
  app = await startTestApp({ DB_POOL_SIZE: "1" });
  clients = [grpcJsClient(app.url), connectJsonH1(app.url)];
});
afterAll(async () => {
  for (const client of clients) client.close();
  await app.close();
  await closeSqlPool();
});

async function coalesced(): Promise<{ groups: number; calls: number }> {
  const text = await (await fetch(`${app.url}/metrics`)).text();
  const value = (name: string) => Number(text.match(new RegExp(`^${name} (\\d+)`, "m"))?.[1] ?? 0);
  return { groups: value("contacts_coalesced_groups_total"), calls: value("contacts_coalesced_calls_total") };
}

describe("waiting single upserts share transactions and keep their own answers", () => {
  it.each([0, 1])(
    "client %i: 40 creates, 20 updates of one contact and a conflict, all at once",
    async (c) => {
      const client = clients[c] as UpsertClient;
      const firmId = uniqueFirm("coalesce");
      await client.upsert({ firmId, trackingId: "T", email: "t@x.com", firstName: "Tom", lastName: "Lee" });
      await client.upsert({ firmId, email: "taken@x.com", firstName: "Ann", lastName: "Ray" });
      const before = await coalesced();

      const creates = Array.from({ length: 40 }, (_, i) =>
        client.upsert({ firmId, email: `p${i}@x.com`, firstName: `P${i}`, lastName: "Doe" }),
      );
      const updates = Array.from({ length: 20 }, (_, i) =>
        client.upsert({ firmId, trackingId: "T", city: `City ${i}` }),
      );
      // A new tracking id whose email belongs to another contact: ALREADY_EXISTS, for this call only.
      const conflict = failure(
        client.upsert({ firmId, trackingId: "NEW", email: "TAKEN@x.com", firstName: "X", lastName: "Y" }),
      );
      const created = await Promise.all(creates);
      const updated = await Promise.all(updates);
      const refused = await conflict;

      expect(created.map((r) => r.result)).toEqual(created.map(() => UpsertResult.CREATED));
      expect(created.map((r) => r.contact?.email)).toEqual(created.map((_, i) => `p${i}@x.com`));
      expect(updated.map((r) => r.result)).toEqual(updated.map(() => UpsertResult.UPDATED));
      expect(refused.code).toBe("ALREADY_EXISTS");
      expect(refused.info?.reason).toBe("EMAIL_TAKEN");

      const rows = await sql<{ n: number }>("SELECT COUNT(*) AS n FROM contacts WHERE firm_id = ?", [firmId]);
      expect(Number(rows[0]?.n)).toBe(42);
      const [tom] = await sql<{ city: string; id: string }>(
        "SELECT city, id FROM contacts WHERE firm_id = ? AND tracking_id = 'T'",
        [firmId],
      );
      // Every update answered with its own city; the stored one is one of them (the last applied).
      expect(updated.map((r) => r.contact?.city).sort()).toEqual(updated.map((_, i) => `City ${i}`).sort());
      expect(updated.map((r) => r.contact?.city)).toContain(tom?.city);
      expect(new Set(updated.map((r) => r.contact?.id))).toEqual(new Set([tom?.id]));
      // The history holds one change per call that wrote, whether it ran alone or in a group, and Tom's updates
      // chain: each one's old city is the new city of the one before it.
      const history = await sql<{ contact_id: string; kind: string; fields: string }>(
        "SELECT contact_id, kind, fields FROM contact_changes WHERE firm_id = ? ORDER BY change_time, seq",
        [firmId],
      );
      expect(history.filter((h) => h.kind === "created")).toHaveLength(42);
      const cities = history
        .filter((h) => h.kind === "updated")
        .map((h) => {
          expect(h.contact_id).toBe(tom?.id);
          return JSON.parse(h.fields) as [string, string | null, string][];
        });
      expect(cities).toHaveLength(20);
      cities.forEach(([[field, old, next] = ["", null, ""]], i) => {
        expect(field).toBe("city");
        expect(old).toBe(i === 0 ? null : cities[i - 1]?.[0]?.[2]);
        if (i === cities.length - 1) expect(next).toBe(tom?.city);
      });

      const after = await coalesced();
      // With one connection and 61 calls at once, most of them waited and shared a transaction.
      expect(after.groups).toBeGreaterThan(before.groups);
      expect(after.calls - before.calls).toBeGreaterThan(30);
    },
  );

  it("a lone call runs alone: no group is counted", async () => {
    const client = clients[0] as UpsertClient;
    const firmId = uniqueFirm("coalesce-lone");
    const before = await coalesced();
    for (let i = 0; i < 5; i++) {
      const response = await client.upsert({
        firmId,
        email: `lone${i}@x.com`,
        firstName: "L",
        lastName: "One",
      });
      expect(response.result).toBe(UpsertResult.CREATED);
    }
    expect(await coalesced()).toEqual(before);
  });
});

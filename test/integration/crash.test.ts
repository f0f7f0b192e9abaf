import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { UpsertResult } from "../../gen/contacts/v1/contact_service_pb.js";
import { connectJsonH1, grpcJsClient, type UpsertClient, type UpsertInit } from "../support/clients.js";
import { closeSqlPool, sql, uniqueFirm } from "../support/database.js";
import { type ServerProcess, spawnServer } from "../support/server-process.js";

const WORKERS = 16;

afterAll(async () => {
  await closeSqlPool();
});

describe("a server killed with SIGKILL during a burst of writes", () => {
  it("leaves no half-written contact, keeps every acknowledged write, and a replay creates no duplicate", async () => {
    const firmId = uniqueFirm("crash");
    const request = (i: number): UpsertInit => ({
      firmId,
      trackingId: `T${i}`,
      email: `c${i}@example.com`,
      firstName: `F${i}`,
      lastName: `L${i}`,
      company: `Co${i}`,
      city: `C${i}`,
      note: `N${i}`,
    });
    let server: ServerProcess | undefined = await spawnServer();
    const clients: UpsertClient[] = [grpcJsClient(server.url), connectJsonH1(server.url)];
    const acknowledged: number[] = [];
    let next = 0;
    let stop = false;
    const worker = async (w: number) => {
      while (!stop) {
        const i = next++;
        try {
          await clients[w % 2]?.upsert(request(i), { timeoutMs: 5_000 });
          acknowledged.push(i);
        } catch {
          return; // the server is gone
        }
      }
    };
    const burst = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    await sleep(800);
    await server.stop("SIGKILL");
    stop = true;
    await burst;
    for (const client of clients) client.close();
    const sentCount = next;

    const rows = await sql<Record<string, string | null>>("SELECT * FROM contacts WHERE firm_id = ?", [
      firmId,
    ]);
    console.info(`sent ${sentCount}, acknowledged ${acknowledged.length}, stored ${rows.length}`);
    expect(acknowledged.length).toBeGreaterThan(0);
    // Atomic: every stored contact is one whole request, never a part of one.
    for (const row of rows) {
      const i = row.tracking_id?.slice(1);
      expect(row).toMatchObject({
        email: `c${i}@example.com`,
        first_name: `F${i}`,
        last_name: `L${i}`,
        company: `Co${i}`,
        city: `C${i}`,
        note: `N${i}`,
      });
    }
    // Durable: everything acknowledged is there.
    const stored = new Set(rows.map((r) => r.tracking_id));
    expect(acknowledged.filter((i) => !stored.has(`T${i}`))).toEqual([]);

    // Restart and replay everything sent, as a CRM retrying after the outage would: one contact per key.
    server = await spawnServer();
    const client = grpcJsClient(server.url);
    try {
      for (let i = 0; i < sentCount; i++) {
        const response = await client.upsert(request(i));
        expect(response.result).toBe(stored.has(`T${i}`) ? UpsertResult.UPDATED : UpsertResult.CREATED);
      }
      const [{ n }] = (await sql<{ n: number }>("SELECT COUNT(*) AS n FROM contacts WHERE firm_id = ?", [
        firmId,
      ])) as [{ n: number }];
      expect(Number(n)).toBe(sentCount);
    } finally {
      client.close();
      await server.stop();
    }
  });
});

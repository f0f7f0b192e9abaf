import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UpsertResult } from "../../gen/contacts/v1/contact_service_pb.js";
import { allClients, failure, type UpsertClient, type UpsertInit } from "../support/clients.js";
import { closeSqlPool, sql, uniqueFirm } from "../support/database.js";
import { type ServerProcess, spawnServer } from "../support/server-process.js";

// `npm test` runs a few seconds of this; `npm run test:chaos` sets CHAOS_SECONDS for the long form.
const SECONDS = Number(process.env.CHAOS_SECONDS ?? 3);
const WORKERS = 24;
const KEYS = 6;

/**
 * Three server processes on one database, many clients, a small key space mixing tracking-id and email upserts.
 * Afterwards the invariants of the contact book must hold whatever interleaving happened.
 */
describe("three server processes on one database under mixed concurrent upserts", () => {
  let servers: ServerProcess[];
  let clients: UpsertClient[];
  beforeAll(async () => {
    servers = await Promise.all([spawnServer(), spawnServer(), spawnServer()]);
    clients = servers.flatMap((server) => allClients(server.url));
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await Promise.all(servers.map((server) => server.stop()));
    await closeSqlPool();
  });

  it(
    "keeps emails and tracking ids unique, one contact per created answer, and values from one write",
    async () => {
      const firmId = uniqueFirm("instances");
      const sent: UpsertInit[] = [];
      const created: string[] = [];
      const codes: Record<string, number> = {};
      const until = Date.now() + SECONDS * 1_000;
      let n = 0;
      const worker = async (w: number) => {
        while (Date.now() < until) {
          const key = n++ % KEYS;
          const client = clients[(w + n) % clients.length] as UpsertClient;
          // Tracking-id upserts use key k's own email; email upserts vary its letter case.
          const request: UpsertInit =
            n % 2 === 0
              ? {
                  firmId,
                  trackingId: `T${key}`,
                  email: `k${key}@example.com`,
                  firstName: `F${n}`,
                  lastName: `L${n}`,
                  city: `C${n}`,
                }
              : {
                  firmId,
                  email: n % 4 === 1 ? `K${key}@EXAMPLE.com` : `k${key}@example.com`,
                  firstName: `F${n}`,
                  lastName: `L${n}`,
                  city: `C${n}`,
                };
          sent.push(request);
          try {
            const response = await client.upsert(request, { timeoutMs: 10_000 });
            codes.OK = (codes.OK ?? 0) + 1;
            if (response.result === UpsertResult.CREATED) created.push(response.contact?.id ?? "");
          } catch (error) {
            const { code } = await failure(Promise.reject(error));
            codes[code] = (codes[code] ?? 0) + 1;
          }
        }
      };
      await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));

      const rows = await sql<{
        id: string;
        email: string;
        tracking_id: string | null;
        first_name: string;
        last_name: string;
        city: string;
      }>("SELECT id, email, tracking_id, first_name, last_name, city FROM contacts WHERE firm_id = ?", [
        firmId,
      ]);
      console.info(`calls ${sent.length}, outcomes ${JSON.stringify(codes)}, contacts ${rows.length}`);
      // Only these outcomes are legitimate: success, or a taken email when a new tracking id meets an email-created contact.
      expect(Object.keys(codes).every((code) => code === "OK" || code === "ALREADY_EXISTS")).toBe(true);
      // Uniqueness of (firm, email ignoring case) and (firm, tracking id).
      expect(new Set(rows.map((r) => r.email.toLowerCase())).size).toBe(rows.length);
      const tracked = rows.filter((r) => r.tracking_id !== null).map((r) => r.tracking_id);
      expect(new Set(tracked).size).toBe(tracked.length);
      // Every created answer maps to exactly one stored contact, and every contact was announced once.
      expect(new Set(created).size).toBe(created.length);
      expect(created.sort()).toEqual(rows.map((r) => r.id).sort());
      // Each contact holds the values of one write: first name, last name and city come from the same request.
      for (const row of rows) {
        const suffix = row.first_name.slice(1);
        expect(row.last_name).toBe(`L${suffix}`);
        expect(row.city).toBe(`C${suffix}`);
        expect(sent.some((r) => r.firstName === row.first_name)).toBe(true);
      }
    },
    SECONDS * 1_000 + 60_000,
  );
});

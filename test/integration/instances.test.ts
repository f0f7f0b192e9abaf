import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UpsertResult } from "../../gen/contacts/v1/contact_service_pb.js";
import { allClients, failure, type UpsertClient, type UpsertInit } from "../support/clients.js";
import { closeSqlPool, sql, uniqueFirm } from "../support/database.js";
import { type ServerProcess, spawnServer } from "../support/server-process.js";

// `npm test` runs a few seconds of this; `npm run test:long` sets CHAOS_SECONDS for the long form.
const SECONDS = Number(process.env.CHAOS_SECONDS ?? 3);
const WORKERS = 24;
const KEYS = 6;
// However slow the machine, enough calls that every key sees both paths several times.
const MIN_CALLS = 16 * KEYS;

/**
 * Three server processes on one database, many clients, a small key space on which tracking-id and email upserts
 * race for the same contacts. Afterwards each call's outcome must be one the match rule allows for the contact
 * as it was created, whatever interleaving happened.
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
    "race the tracking-id and email paths on the same contacts with only the outcomes the match rule allows",
    async () => {
      const firmId = uniqueFirm("instances");
      interface Sent {
        readonly key: number;
        readonly path: "trackingId" | "email";
        readonly request: UpsertInit;
        outcome?: string;
        created?: string;
      }
      const sent: Sent[] = [];
      // Connections opened first, so the timed part races calls rather than connection setups.
      await Promise.all(
        clients.map((client) =>
          client.upsert({
            firmId: uniqueFirm("warm"),
            email: "w@example.com",
            firstName: "W",
            lastName: "W",
          }),
        ),
      );
      const until = Date.now() + SECONDS * 1_000;
      let n = 0;
      const worker = async (w: number) => {
        while (Date.now() < until || n < MIN_CALLS) {
          const i = n++;
          // Both paths on every key: consecutive calls share a key and take different paths.
          const key = Math.floor(i / 2) % KEYS;
          const path = (i + Math.floor(i / (2 * KEYS))) % 2 === 0 ? "trackingId" : "email";
          const client = clients[(w + i) % clients.length] as UpsertClient;
          const values = { firstName: `F${i}`, lastName: `L${i}`, city: `C${i}` };
          // A tracking-id upsert carries the key's own email; an email upsert varies its letter case.
          const request: UpsertInit =
            path === "trackingId"
              ? { firmId, trackingId: `T${key}`, email: `k${key}@example.com`, ...values }
              : { firmId, email: i % 4 < 2 ? `K${key}@EXAMPLE.com` : `k${key}@example.com`, ...values };
          const entry: Sent = { key, path, request };
          sent.push(entry);
          try {
            const response = await client.upsert(request, { timeoutMs: 10_000 });
            entry.outcome = response.result === UpsertResult.CREATED ? "CREATED" : "UPDATED";
            if (entry.outcome === "CREATED") entry.created = response.contact?.id;
          } catch (error) {
            entry.outcome = (await failure(Promise.reject(error))).code;
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
      const tally: Record<string, number> = {};
      for (const { path, outcome } of sent)
        tally[`${path} ${outcome}`] = (tally[`${path} ${outcome}`] ?? 0) + 1;
      console.info(`calls ${sent.length}, outcomes ${JSON.stringify(tally)}, contacts ${rows.length}`);
      // Work was done: every email upsert succeeds (the rule never refuses one), and both paths ran on every key.
      const byEmail = sent.filter((s) => s.path === "email");
      expect(byEmail.filter((s) => s.outcome !== "CREATED" && s.outcome !== "UPDATED")).toEqual([]);
      for (let key = 0; key < KEYS; key++) {
        for (const path of ["trackingId", "email"]) {
          expect(sent.filter((s) => s.key === key && s.path === path).length).toBeGreaterThan(2);
        }
      }
      // One contact per key: its email (ignoring case) and tracking id are unique in the firm.
      expect(rows).toHaveLength(KEYS);
      expect(new Set(rows.map((r) => r.email.toLowerCase())).size).toBe(KEYS);
      for (let key = 0; key < KEYS; key++) {
        const row = rows.find((r) => r.email.toLowerCase() === `k${key}@example.com`);
        const calls = sent.filter((s) => s.key === key);
        // The match rule decides every outcome from which path created the key's contact:
        // - created by a tracking-id upsert (it holds T<key>): every call of the key succeeds;
        // - created by an email upsert (no tracking id): every later tracking-id upsert finds no T<key> and an
        //   email taken by another contact, so it fails ALREADY_EXISTS and writes nothing; email upserts succeed.
        const creators = calls.filter((s) => s.outcome === "CREATED");
        expect(creators.map((s) => s.created)).toEqual([row?.id]);
        if (row?.tracking_id === `T${key}`) {
          expect(creators[0]?.path).toBe("trackingId");
          expect(calls.filter((s) => s.outcome !== "UPDATED" && s.outcome !== "CREATED")).toEqual([]);
        } else {
          expect(row?.tracking_id).toBeNull();
          expect(creators[0]?.path).toBe("email");
          for (const call of calls) {
            expect(call.outcome).toBe(
              call.path === "email" ? (call === creators[0] ? "CREATED" : "UPDATED") : "ALREADY_EXISTS",
            );
          }
        }
        // The contact holds the values of one successful call of its key: a failed call wrote nothing.
        const writer = calls.find((s) => s.request.firstName === row?.first_name);
        expect(writer?.outcome === "CREATED" || writer?.outcome === "UPDATED").toBe(true);
        expect(row?.last_name).toBe(writer?.request.lastName);
        expect(row?.city).toBe(writer?.request.city);
      }
    },
    SECONDS * 1_000 + 60_000,
  );
});

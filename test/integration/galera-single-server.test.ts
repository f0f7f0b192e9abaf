import { setTimeout as sleep } from "node:timers/promises";
import type { Connection } from "mysql2/promise";
import { afterAll, describe, expect, it } from "vitest";
import { UpsertResult } from "../../gen/contacts/v1/contact_service_pb.js";
import { parseDatabaseUrl } from "../../src/db/database.js";
import { detectCluster } from "../../src/db/galera.js";
import { takeMigrationLock } from "../../src/db/migration-lock.js";
import { startTestApp } from "../support/app.js";
import { grpcJsClient } from "../support/clients.js";
import {
  closeSqlPool,
  openTestConnection,
  storedContacts,
  TEST_DATABASE_URL,
  uniqueFirm,
} from "../support/database.js";

const DATABASE = parseDatabaseUrl(TEST_DATABASE_URL).database;

// What the Galera support does on the plain server the suite runs against: the cluster test
// (galera.test.ts, GALERA=1) shows the same code on three nodes.

const connections: Connection[] = [];
async function connection(): Promise<Connection> {
  const opened = await openTestConnection();
  connections.push(opened);
  return opened;
}
afterAll(async () => {
  for (const opened of connections) await opened.end().catch(() => undefined);
  await closeSqlPool();
});

describe("on a single server", () => {
  it("no cluster is detected, so transactions keep their one-packet commit", async () => {
    expect(await detectCluster(await connection())).toEqual({ galera: false, size: 0 });
    const app = await startTestApp();
    try {
      expect(app.databaseCluster).toBe("single server");
    } finally {
      await app.close();
    }
  });

  it("with DB_PIPELINE=off (one statement a round trip, as on Galera) upserts, updates and batches answer as usual", async () => {
    const app = await startTestApp({ DB_PIPELINE: "off" });
    const client = grpcJsClient(app.url);
    try {
      const firmId = uniqueFirm("onetrip");
      const created = await client.upsert({
        firmId,
        email: "a@example.com",
        firstName: "Ann",
        lastName: "Lee",
      });
      expect(created.result).toBe(UpsertResult.CREATED);
      const updated = await client.upsert({ firmId, email: "a@example.com", phone: "555" });
      expect(updated.result).toBe(UpsertResult.UPDATED);
      expect(updated.contact?.id).toBe(created.contact?.id);
      const racing = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          client.upsert({ firmId, email: `r${i % 5}@example.com`, firstName: "R", lastName: "S" }),
        ),
      );
      expect(racing.filter((r) => r.result === UpsertResult.CREATED)).toHaveLength(5);
      expect(await storedContacts(firmId)).toHaveLength(6);
    } finally {
      client.close();
      await app.close();
    }
  });
});

describe("the cluster-wide migration lock (a leased row)", () => {
  const timing = { waitMs: 10_000, leaseMs: 3_000, pollMs: 50 };

  it("a second instance waits until the first releases it", async () => {
    const [a, b] = [await connection(), await connection()];
    const releaseA = await takeMigrationLock(a, true, DATABASE, timing);
    let bHasIt = false;
    const taking = takeMigrationLock(b, true, DATABASE, timing).then((release) => {
      bHasIt = true;
      return release;
    });
    await sleep(500);
    expect(bHasIt).toBe(false);
    await releaseA();
    const releaseB = await taking;
    expect(bHasIt).toBe(true);
    await releaseB();
  });

  it("a holder that stopped renewing (crashed) loses it once its lease ends", async () => {
    const [a, b] = [await connection(), await connection()];
    await takeMigrationLock(a, true, DATABASE, timing);
    await a.end(); // the renewals now fail, as a dead instance's would
    const started = Date.now();
    const release = await takeMigrationLock(b, true, DATABASE, timing);
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThan(timing.leaseMs / 3);
    expect(waited).toBeLessThan(timing.leaseMs + 2_000);
    await release();
  });

  it("gives up after waitMs with a message saying why", async () => {
    const [a, b] = [await connection(), await connection()];
    const release = await takeMigrationLock(a, true, DATABASE, timing);
    await expect(takeMigrationLock(b, true, DATABASE, { ...timing, waitMs: 300 })).rejects.toThrow(
      /another instance held the migration lock for more than 300 ms/,
    );
    await release();
  });
});

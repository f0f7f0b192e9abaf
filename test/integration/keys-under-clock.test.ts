import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UpsertResult } from "../../gen/contacts/v1/contact_service_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { grpcJsClient, type UpsertClient } from "../support/clients.js";
import { closeSqlPool, openTestConnection, sql, uniqueFirm } from "../support/database.js";

// A write that fits one round trip claims its unique keys under the firm's clock, in the statement that stamps the
// row with the tick (PipelinedTransaction.claimKeys): a create waiting for the clock holds no key yet, and its
// row is written once, with the tick its answer carries.

let app: TestApp;
let client: UpsertClient;
beforeAll(async () => {
  app = await startTestApp();
  client = grpcJsClient(app.url);
});
afterAll(async () => {
  client.close();
  await app.close();
  await closeSqlPool();
});

describe("a create that waits for the firm's clock", () => {
  it("holds none of its keys while it waits, then stores the row with the tick it answers", async () => {
    const firmId = uniqueFirm("under-clock");
    await client.upsert({
      firmId,
      trackingId: "OLD",
      email: "old@example.com",
      firstName: "O",
      lastName: "L",
    });
    const clock = await openTestConnection();
    const probe = await openTestConnection();
    try {
      await clock.beginTransaction();
      await clock.query("SELECT last_time FROM firm_clocks WHERE firm_id = ? FOR UPDATE", [firmId]);
      const create = client.upsert({
        firmId,
        trackingId: "NEW",
        email: "new@example.com",
        firstName: "N",
        lastName: "W",
      });
      // The create is blocked on the clock once the server's connection waits on a lock.
      for (let i = 0; i < 100; i++) {
        const [waits] = await sql<{ n: number }>(
          "SELECT COUNT(*) AS n FROM information_schema.INNODB_LOCK_WAITS w JOIN information_schema.INNODB_LOCKS l " +
            "ON l.lock_id = w.requested_lock_id WHERE l.lock_table LIKE '%firm_clocks%'",
        );
        if (Number(waits?.n) > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // Its keys are free: another transaction's locking read of its tracking id finds no row and waits for none.
      await probe.query("SET SESSION innodb_lock_wait_timeout = 1");
      await probe.query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
      await probe.beginTransaction();
      const [byKeys] = await probe.query(
        "SELECT id FROM contacts WHERE firm_id = ? AND tracking_id = 'NEW' FOR UPDATE",
        [firmId],
      );
      expect(byKeys).toEqual([]);
      await probe.rollback();
      await clock.commit();
      const { result, contact } = await create;
      expect(result).toBe(UpsertResult.CREATED);
      const [row] = await sql<{ create_time: Date; update_time: Date }>(
        "SELECT create_time, update_time FROM contacts WHERE firm_id = ? AND tracking_id = 'NEW'",
        [firmId],
      );
      expect(row?.create_time.getTime()).toBe(
        Number(contact?.createTime?.seconds) * 1000 + (contact?.createTime?.nanos ?? 0) / 1e6,
      );
      expect(row?.update_time).toEqual(row?.create_time);
      const [clockRow] = await sql<{ last_time: Date }>(
        "SELECT last_time FROM firm_clocks WHERE firm_id = ?",
        [firmId],
      );
      expect(clockRow?.last_time).toEqual(row?.create_time);
    } finally {
      await clock.end().catch(() => undefined);
      await probe.end().catch(() => undefined);
    }
  });
});

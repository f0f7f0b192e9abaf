import { createConnection } from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDatabaseUrl } from "../../src/db/database.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { failure, grpcJsClient, type UpsertClient } from "../support/clients.js";
import { closeSqlPool, storedContacts, TEST_DATABASE_URL, uniqueFirm } from "../support/database.js";

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

describe("the caller's deadline applies to the database work", () => {
  it("answers DEADLINE_EXCEEDED on time while blocked on a lock, and writes nothing afterwards", async () => {
    const firmId = uniqueFirm("deadline");
    await client.upsert({
      firmId,
      trackingId: "T1",
      email: "d@example.com",
      firstName: "Before",
      lastName: "L",
    });
    const { credentials, database } = parseDatabaseUrl(TEST_DATABASE_URL);
    const blocker = await createConnection({ ...credentials, database });
    try {
      // Another transaction holds the contact's row lock, as a slow concurrent writer would.
      await blocker.beginTransaction();
      await blocker.query("SELECT id FROM contacts WHERE firm_id = ? FOR UPDATE", [firmId]);
      const started = Date.now();
      const late = await failure(
        client.upsert({ firmId, trackingId: "T1", firstName: "After" }, { timeoutMs: 300 }),
      );
      expect(late.code).toBe("DEADLINE_EXCEEDED");
      expect(Date.now() - started).toBeLessThan(1_500);
      // The client gave up on its own clock; the server's copy of the deadline ends a moment later.
      await new Promise((resolve) => setTimeout(resolve, 200));
      await blocker.rollback();
    } finally {
      await blocker.end();
    }
    // The server's read finishes once the lock is gone; its next statement sees the deadline and rolls back.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const [row] = await storedContacts(firmId);
    expect(row?.first_name).toBe("Before");
  });
});

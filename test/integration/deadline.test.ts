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

/** Holds the row locks of a firm's contacts from another connection while `during` runs, as a slow writer would. */
async function whileLocked<T>(firmId: string, during: () => Promise<T>): Promise<T> {
  const { credentials, database } = parseDatabaseUrl(TEST_DATABASE_URL);
  const blocker = await createConnection({ ...credentials, database });
  try {
    await blocker.beginTransaction();
    await blocker.query("SELECT id FROM contacts WHERE firm_id = ? FOR UPDATE", [firmId]);
    const result = await during();
    // The client gave up on its own clock; the server's copy of the deadline ends a moment later.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await blocker.rollback();
    return result;
  } finally {
    await blocker.end();
  }
}

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
    const started = Date.now();
    const late = await whileLocked(firmId, () =>
      failure(client.upsert({ firmId, trackingId: "T1", firstName: "After" }, { timeoutMs: 300 })),
    );
    expect(late.code).toBe("DEADLINE_EXCEEDED");
    expect(Date.now() - started).toBeLessThan(1_500);
    // The server's read finishes once the lock is gone; its next statement sees the deadline and rolls back.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const [row] = await storedContacts(firmId);
    expect(row?.first_name).toBe("Before");
  });
});

describe("MAX_TIMEOUT_MS caps how long a call may work", () => {
  let capped: TestApp;
  let cappedClient: UpsertClient;
  beforeAll(async () => {
    capped = await startTestApp({ MAX_TIMEOUT_MS: "300" });
    cappedClient = grpcJsClient(capped.url);
  });
  afterAll(async () => {
    cappedClient.close();
    await capped.close();
  });

  it("accepts a client deadline longer than the cap, and ends a call that runs past the cap", async () => {
    const firmId = uniqueFirm("cap");
    const created = await cappedClient.upsert(
      { firmId, trackingId: "T1", email: "cap@example.com", firstName: "Before", lastName: "L" },
      { timeoutMs: 120_000 },
    );
    expect(created.contact?.firstName).toBe("Before");
    const started = Date.now();
    const late = await whileLocked(firmId, () =>
      failure(cappedClient.upsert({ firmId, trackingId: "T1", firstName: "After" }, { timeoutMs: 60_000 })),
    );
    expect(late).toMatchObject({
      code: "DEADLINE_EXCEEDED",
      message: expect.stringMatching(/limit of 300 ms/),
    });
    expect(Date.now() - started).toBeLessThan(1_500);
    const [row] = await storedContacts(firmId);
    expect(row?.first_name).toBe("Before");
  });
});

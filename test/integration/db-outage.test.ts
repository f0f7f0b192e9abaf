import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UpsertResult } from "../../gen/contacts/v1/contact_service_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import {
  connectJsonH1,
  failure,
  grpcJsClient,
  type UpsertClient,
  type UpsertInit,
} from "../support/clients.js";
import {
  PRIVATE_MARIADB_MISSING,
  type PrivateMariaDb,
  reportSkip,
  startPrivateMariaDb,
} from "../support/private-mariadb.js";

const DEADLINE_MS = 4_000;

reportSkip("db-outage.test.ts", PRIVATE_MARIADB_MISSING);

describe.skipIf(PRIVATE_MARIADB_MISSING !== undefined)("when the database goes away and comes back", () => {
  let db: PrivateMariaDb;
  let app: TestApp;
  let clients: UpsertClient[];
  beforeAll(async () => {
    db = await startPrivateMariaDb();
    app = await startTestApp({ DATABASE_URL: db.url, DB_CONNECT_TIMEOUT_MS: "1000" });
    clients = [grpcJsClient(app.url), connectJsonH1(app.url)];
  }, 90_000);
  afterAll(async () => {
    for (const client of clients ?? []) client.close();
    await app?.close();
    await db?.destroy();
  });

  /** grpc.health.v1 Check over Connect JSON, for the whole server. */
  const healthStatus = async () => {
    const response = await fetch(`${app.url}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    return ((await response.json()) as { status?: string }).status;
  };
  /** Polls `condition` for up to five seconds (health re-probes the database about once a second). */
  const eventually = async (condition: () => Promise<boolean>) => {
    for (const until = Date.now() + 5_000; Date.now() < until; await sleep(100)) {
      if (await condition()) return true;
    }
    return false;
  };

  const contact = (i: number): UpsertInit => ({
    firmId: "outage",
    trackingId: `T${i}`,
    email: `o${i}@example.com`,
    firstName: `F${i}`,
    lastName: "L",
  });

  it("fails calls with UNAVAILABLE within their deadline, then recovers by itself with every write kept", async () => {
    for (let i = 0; i < 10; i++) await clients[i % 2]?.upsert(contact(i));

    await db.kill();
    const started = Date.now();
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        failure(clients[i % 2]?.upsert(contact(100 + i), { timeoutMs: DEADLINE_MS }) as Promise<unknown>),
      ),
    );
    const elapsed = Date.now() - started;
    console.info(`during the outage: ${JSON.stringify(outcomes.map((o) => o.code))} in ${elapsed} ms`);
    expect(outcomes.every((o) => o.code === "UNAVAILABLE")).toBe(true);
    expect(elapsed).toBeLessThan(DEADLINE_MS + 1_000);
    // Health follows the database: load balancers stop sending calls here.
    expect(await eventually(async () => (await healthStatus()) === "NOT_SERVING")).toBe(true);
    expect((await fetch(`${app.url}/readyz`)).status).toBe(503);

    await db.start();
    // The pool reconnects on its own: the first calls may still see UNAVAILABLE while it does.
    const recoverBy = Date.now() + 15_000;
    let recovered = false;
    while (!recovered && Date.now() < recoverBy) {
      recovered =
        (await clients[0]?.upsert(contact(200)).then(
          () => true,
          () => false,
        )) ?? false;
    }
    console.info(`recovered ${Date.now() - started} ms after the outage began`);
    expect(recovered).toBe(true);
    expect(await eventually(async () => (await healthStatus()) === "SERVING")).toBe(true);
    for (let i = 0; i < 10; i++) {
      const response = await clients[i % 2]?.upsert({ firmId: "outage", trackingId: `T${i}` });
      expect(response?.result).toBe(UpsertResult.UPDATED);
      expect(response?.contact?.firstName).toBe(`F${i}`);
    }
  });
});

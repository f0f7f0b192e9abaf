import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UpsertResult } from "../../gen/contacts/v1/contact_service_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { allClients, failure, type UpsertClient } from "../support/clients.js";
import { closeSqlPool, storedContacts, uniqueFirm } from "../support/database.js";
import { type ServerProcess, spawnServer } from "../support/server-process.js";

const PARALLEL = 24;

/** Mixed letter case of one address, different per call. */
const casing = (email: string, i: number) =>
  [...email].map((c, j) => ((i >> (j % 8)) & 1 ? c.toUpperCase() : c.toLowerCase())).join("");

/** Fires `PARALLEL` upserts at once, round-robin over the clients, and returns every result. */
async function race(clients: UpsertClient[], request: (i: number) => Parameters<UpsertClient["upsert"]>[0]) {
  const calls = Array.from({ length: PARALLEL }, (_, i) => clients[i % clients.length]?.upsert(request(i)));
  return Promise.all(calls);
}

function expectOneCreated(responses: Awaited<ReturnType<typeof race>>) {
  expect(responses.filter((r) => r.result === UpsertResult.CREATED)).toHaveLength(1);
  expect(responses.filter((r) => r.result === UpsertResult.UPDATED)).toHaveLength(PARALLEL - 1);
  expect(new Set(responses.map((r) => r.contact?.id)).size).toBe(1);
}

describe("concurrent upserts of one new key in one process", () => {
  let app: TestApp;
  let clients: UpsertClient[];
  beforeAll(async () => {
    app = await startTestApp();
    clients = allClients(app.url);
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await app.close();
  });

  const retriesSince = (before: TestApp["retries"]) =>
    Object.fromEntries(
      Object.entries(app.retries).map(([kind, n]) => [kind, n - before[kind as keyof typeof before]]),
    );

  it("of one new tracking id create exactly one contact and every caller succeeds", async () => {
    const firmId = uniqueFirm("race-tid");
    const before = { ...app.retries };
    const responses = await race(clients, (i) => ({
      firmId,
      trackingId: "CRM-1",
      email: "race@example.com",
      firstName: `Ann${i}`,
      lastName: "Lee",
    }));
    expectOneCreated(responses);
    expect(await storedContacts(firmId)).toHaveLength(1);
    console.info(`tracking id race: retries ${JSON.stringify(retriesSince(before))}`);
  });

  it("of one new email in mixed letter case create exactly one contact and every caller succeeds", async () => {
    const firmId = uniqueFirm("race-email");
    const before = { ...app.retries };
    const responses = await race(clients, (i) => ({
      firmId,
      email: casing("mixed.case@example.com", i),
      firstName: "Bo",
      lastName: `Ng${i}`,
    }));
    expectOneCreated(responses);
    const stored = await storedContacts(firmId);
    expect(stored).toHaveLength(1);
    expect(responses.every((r) => r.contact?.email === stored[0]?.email)).toBe(true);
    console.info(`email race: retries ${JSON.stringify(retriesSince(before))}`);
  });
});

describe("with a retry policy of one attempt, concurrent creators of one new key", () => {
  let app: TestApp;
  let clients: UpsertClient[];
  beforeAll(async () => {
    app = await startTestApp(
      {},
      { retryPolicy: { maxAttempts: 1, maxUnavailableAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 } },
    );
    clients = allClients(app.url);
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await app.close();
  });

  it("that lose the race on the unique index get ABORTED, write nothing, and succeed when retried", async () => {
    const outcomes: Record<string, number> = {};
    // A race is not certain to collide: a few rounds, each on a new key, until one has.
    for (let round = 0; round < 10 && !outcomes.ABORTED; round++) {
      const firmId = uniqueFirm("aborted");
      const request = (i: number) => ({
        firmId,
        trackingId: "CRM-A",
        email: "aborted@example.com",
        firstName: `Ab${i}`,
        lastName: "Or",
      });
      const results = await Promise.all(
        Array.from({ length: PARALLEL }, (_, i) =>
          (clients[i % clients.length] as UpsertClient).upsert(request(i)).then(
            (response) => ({ code: "OK", result: response.result, i }),
            async (error: unknown) => ({
              code: (await failure(Promise.reject(error))).code,
              result: undefined,
              i,
            }),
          ),
        ),
      );
      for (const { code } of results) outcomes[code] = (outcomes[code] ?? 0) + 1;
      // Exactly these outcomes: one creator, updaters, and the losers of a collision told to retry.
      expect(results.every((r) => r.code === "OK" || r.code === "ABORTED")).toBe(true);
      expect(results.filter((r) => r.result === UpsertResult.CREATED)).toHaveLength(1);
      const stored = await storedContacts(firmId);
      expect(stored).toHaveLength(1);
      // The stored name is one a successful call sent: an aborted call wrote nothing.
      const okNames = results.filter((r) => r.code === "OK").map((r) => `Ab${r.i}`);
      expect(okNames).toContain(stored[0]?.first_name);
      // ABORTED is safe to retry: the same request then succeeds.
      for (const aborted of results.filter((r) => r.code === "ABORTED")) {
        const response = await (clients[0] as UpsertClient).upsert(request(aborted.i));
        expect(response.result).toBe(UpsertResult.UPDATED);
      }
    }
    console.info(`one-attempt races: ${JSON.stringify(outcomes)}`);
    expect(outcomes.ABORTED ?? 0).toBeGreaterThan(0);
  });
});

describe("concurrent upserts of one new key through two server processes on one database", () => {
  let servers: ServerProcess[];
  let clients: UpsertClient[];
  beforeAll(async () => {
    servers = await Promise.all([spawnServer(), spawnServer()]);
    clients = servers.flatMap((server) => allClients(server.url));
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await Promise.all(servers.map((server) => server.stop()));
    await closeSqlPool();
  });

  it("of one new tracking id create exactly one contact", async () => {
    const firmId = uniqueFirm("race2-tid");
    const responses = await race(clients, (i) => ({
      firmId,
      trackingId: "CRM-2",
      email: casing("two@example.com", i),
      firstName: "Cy",
      lastName: `Re${i}`,
    }));
    expectOneCreated(responses);
    expect(await storedContacts(firmId)).toHaveLength(1);
  });

  it("of one new email in mixed letter case create exactly one contact", async () => {
    const firmId = uniqueFirm("race2-email");
    const responses = await race(clients, (i) => ({
      firmId,
      email: casing("two.procs@example.com", i),
      firstName: "Di",
      lastName: `Ko${i}`,
    }));
    expectOneCreated(responses);
    expect(await storedContacts(firmId)).toHaveLength(1);
  });
});

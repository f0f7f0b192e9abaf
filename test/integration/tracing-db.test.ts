import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { App } from "../../src/app.js";
import { connectProtoH2, grpcJsClient, type UpsertClient } from "../support/clients.js";
import { closeSqlPool, uniqueFirm } from "../support/database.js";
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from "../support/otlp-receiver.js";
import { rpcSpan, settled, startTracedApp } from "../support/traced-app.js";

let receiver: OtlpReceiver;
const apps: App[] = [];
const clients: UpsertClient[] = [];

beforeAll(async () => {
  receiver = await startOtlpReceiver();
});

afterAll(async () => {
  for (const client of clients) client.close();
  for (const app of apps) await app.close();
  await receiver?.close();
  await closeSqlPool();
});

const parentOf = (span: ReceivedSpan) =>
  receiver.spans.find((s) => s.traceId === span.traceId && s.spanId === span.parentSpanId);

describe("traced transactions", () => {
  it("traces each attempt of a retried transaction as its own span, the failed one with its error code", async () => {
    let retries = 0;
    const app = await startTracedApp(receiver, {}, [], { onRetry: () => void retries++ });
    apps.push(app);
    const client = grpcJsClient(app.server.url);
    clients.push(client);
    // Concurrent creators of one tracking id meet on its unique index: all but one see a duplicate and retry.
    let firmId = "";
    for (let round = 0; round < 20 && retries === 0; round++) {
      firmId = uniqueFirm("tr-retry");
      await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          client.upsert({
            firmId,
            trackingId: "same",
            email: `r${i}@example.com`,
            firstName: "R",
            lastName: "T",
          }),
        ),
      );
    }
    expect(retries).toBeGreaterThan(0);
    const retried = await receiver.waitFor(
      (s) =>
        s.name === "transaction" &&
        s.attributes["contacts.transaction.attempt"] === 2 &&
        parentOf(s)?.attributes["contacts.firm_id"] === firmId,
    );
    const server = parentOf(retried) as ReceivedSpan;
    await settled(receiver, server);
    const attempts = receiver.spans.filter(
      (s) => s.traceId === server.traceId && s.parentSpanId === server.spanId && s.name === "transaction",
    );
    const first = attempts.find((s) => s.attributes["contacts.transaction.attempt"] === 1) as ReceivedSpan;
    expect(first.statusCode).toBe(2);
    expect(first.attributes["error.type"]).toMatch(/^ER_/);
    expect(first.events.map((e) => e.name)).toContain("exception");
  });

  it("runs coalesced calls in a trace of their own, linked both ways to every call it carries", async () => {
    // One connection: calls that wait for it coalesce.
    const app = await startTracedApp(receiver, { DB_POOL_SIZE: "1" });
    apps.push(app);
    const client = connectProtoH2(app.server.url);
    // Calls that arrive while the connection is busy wait, and coalesce; a burst of 20 nearly always has some.
    let firmId = "";
    let group: ReceivedSpan | undefined;
    for (let burst = 0; burst < 5 && group === undefined; burst++) {
      firmId = uniqueFirm("tr-group");
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          client.upsert({ firmId, email: `g${i}@example.com`, firstName: "G", lastName: "R" }),
        ),
      );
      const id = firmId;
      group = await receiver
        .waitFor((s) => s.name === "coalesced upserts" && s.attributes["contacts.firm_id"] === id, 3_000)
        .catch(() => undefined);
    }
    if (group === undefined) throw new Error("no burst of 20 calls coalesced");
    expect(group.parentSpanId).toBe("");
    expect(group.attributes["contacts.coalesced.calls"]).toBe(group.links.length);
    expect(group.links.length).toBeGreaterThan(1);
    const trace = await settled(receiver, group);
    const transaction = trace.find((s) => s.name === "transaction" && s.parentSpanId === group.spanId);
    expect(transaction).toBeDefined();
    const calls = receiver.spans.filter(rpcSpan(firmId));
    for (const link of group.links) {
      const call = calls.find((s) => s.spanId === link.spanId);
      expect(call).toBeDefined();
      expect(call?.traceId).toBe(link.traceId);
      expect(call?.links).toEqual([{ traceId: group.traceId, spanId: group.spanId }]);
      expect(call?.attributes["contacts.outcome"]).toBe("created");
    }
  });
});

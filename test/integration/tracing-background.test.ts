import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { App } from "../../src/app.js";
import { connectProtoH2, type UpsertClient } from "../support/clients.js";
import { closeSqlPool, uniqueFirm } from "../support/database.js";
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from "../support/otlp-receiver.js";
import { hex, startTracedApp } from "../support/traced-app.js";
import { connectWatch } from "../support/watch.js";

let receiver: OtlpReceiver;
let app: App;
let client: UpsertClient;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  app = await startTracedApp(receiver);
  client = connectProtoH2(app.server.url);
});

afterAll(async () => {
  client?.close();
  await app?.close();
  await receiver?.close();
  await closeSqlPool();
});

describe("streams and background work", () => {
  it("traces a watch stream as one span, in the caller's trace, with an event per message sent", async () => {
    const firmId = uniqueFirm("tr-watch");
    const traceId = hex(16);
    const watch = connectWatch(
      createGrpcTransport({ baseUrl: app.server.url }),
      { firmId },
      { traceparent: `00-${traceId}-${hex(8)}-01` },
    );
    for (let i = 0; i < 3; i++) {
      await client.upsert({ firmId, email: `w${i}@example.com`, firstName: "W", lastName: "S" });
    }
    await watch.until(() => watch.changes().length >= 3);
    const received = watch.messages.length;
    watch.cancel();
    await watch.ended;
    // A stream's request reaches interceptors as a stream, so its span names no firm: it is found by its trace.
    const watchSpan = (s: ReceivedSpan) => s.traceId === traceId && s.name.endsWith("/WatchContactChanges");
    const span = await receiver.waitFor(watchSpan);
    expect(span.parentSpanId).not.toBe("");
    expect(receiver.spans.filter(watchSpan)).toHaveLength(1);
    const messages = span.events.filter((e) => e.name === "message");
    expect(messages.length).toBeGreaterThanOrEqual(received);
    expect(span.attributes["contacts.messages_sent"]).toBe(messages.length);
    expect(messages[0]?.attributes).toEqual({ "rpc.message.type": "SENT", "rpc.message.id": 1 });
  });

  it("traces each purge batch in a trace of its own", async () => {
    // Both purges run a pass as the app starts.
    for (const name of ["purge tombstones", "purge request ids"]) {
      const batch = await receiver.waitFor((s) => s.name === name);
      expect(batch.parentSpanId).toBe("");
      expect(batch.attributes["contacts.purge.deleted"]).toBeGreaterThanOrEqual(0);
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { App } from "../../src/app.js";
import { allClients, failure, type UpsertClient } from "../support/clients.js";
import { closeSqlPool, uniqueFirm } from "../support/database.js";
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from "../support/otlp-receiver.js";
import { CLIENT, hex, rpcSpan, settled, startTracedApp } from "../support/traced-app.js";

let receiver: OtlpReceiver;
let app: App;
let clients: UpsertClient[];
const logLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  app = await startTracedApp(receiver, {}, logLines);
  clients = allClients(app.server.url);
});

afterAll(async () => {
  for (const client of clients ?? []) client.close();
  await app?.close();
  await receiver?.close();
  await closeSqlPool();
});

const childrenOf = (parent: ReceivedSpan) =>
  receiver.spans.filter((s) => s.traceId === parent.traceId && s.parentSpanId === parent.spanId);

describe("with OTEL_EXPORTER_OTLP_ENDPOINT set, every call is a server span exported over OTLP", () => {
  it("makes the call's span a child of the caller's traceparent, over every protocol, keeping tracestate", async () => {
    const expected: Record<string, string> = {
      "grpc-js": "grpc",
      "connect-json-http1": "connect_rpc",
      "connect-proto-h2c": "connect_rpc",
      "grpc-web-http1": "grpc",
      "connect-grpc-h2c": "grpc",
    };
    for (const client of clients) {
      const firmId = uniqueFirm("tr-ctx");
      const [traceId, parentId] = [hex(16), hex(8)];
      await client.upsert(
        { firmId, email: "ctx@example.com", firstName: "A", lastName: "B" },
        { headers: { traceparent: `00-${traceId}-${parentId}-01`, tracestate: "vendor=opaque" } },
      );
      const span = await receiver.waitFor(rpcSpan(firmId));
      expect(span, client.name).toMatchObject({
        traceId,
        parentSpanId: parentId,
        name: "contacts.v1.ContactService/UpsertContact",
        traceState: "vendor=opaque",
      });
      expect(span.attributes, client.name).toMatchObject({
        "rpc.system": expected[client.name],
        "rpc.service": "contacts.v1.ContactService",
        "rpc.method": "UpsertContact",
        "contacts.outcome": "created",
      });
      if (expected[client.name] === "grpc") expect(span.attributes["rpc.grpc.status_code"]).toBe(0);
      expect(span.resource["service.name"]).toBe("contacts-tracing-test");
    }
  });

  it("starts a new trace for a call without traceparent, and names each protocol's error code", async () => {
    const [grpcJs, connectJson] = clients as [UpsertClient, UpsertClient];
    const firmId = uniqueFirm("tr-new");
    await grpcJs.upsert({ firmId, email: "new@example.com", firstName: "A", lastName: "B" });
    const span = await receiver.waitFor(rpcSpan(firmId));
    expect(span.parentSpanId).toBe("");
    expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);

    const badGrpc = uniqueFirm("tr-bad");
    expect((await failure(grpcJs.upsert({ firmId: badGrpc, firstName: "A" }))).code).toBe("INVALID_ARGUMENT");
    expect((await receiver.waitFor(rpcSpan(badGrpc))).attributes).toMatchObject({
      "rpc.grpc.status_code": 3,
      "error.type": "invalid_argument",
    });
    const badConnect = uniqueFirm("tr-bad");
    await failure(connectJson.upsert({ firmId: badConnect, firstName: "A" }));
    const connectSpan = await receiver.waitFor(rpcSpan(badConnect));
    expect(connectSpan.attributes["rpc.connect_rpc.error_code"]).toBe("invalid_argument");
    // The caller's mistake is not the server's fault: no error status.
    expect(connectSpan.statusCode).not.toBe(2);
  });

  it("holds the firm queue wait and one transaction, whose round trips carry statement shapes, never values", async () => {
    const [client] = clients as [UpsertClient];
    const firmId = uniqueFirm("tr-db");
    const trackingId = `trk-${hex(6)}`;
    await client.upsert({ firmId, trackingId, email: "db@example.com", firstName: "Dee", lastName: "Bee" });
    await client.upsert({ firmId, trackingId, firstName: "Dee", lastName: "Bee" }); // changes nothing
    await client.upsert({ firmId, trackingId, firstName: "Dora" });
    const server = await receiver.waitFor(rpcSpan(firmId));
    const names = (await settled(receiver, server)).map((s) => s.name);
    expect(names).toContain("firm queue wait");
    const children = childrenOf(server);
    expect(children.map((s) => s.name).sort()).toEqual(["firm queue wait", "transaction"]);
    const transaction = children.find((s) => s.name === "transaction") as ReceivedSpan;
    expect(transaction.attributes).toMatchObject({ "db.system": "mysql", "contacts.transaction.attempt": 1 });
    const trips = childrenOf(transaction);
    expect(trips.map((s) => s.name)).toContain("database connection wait");
    const queries = trips.filter((s) => s.kind === CLIENT);
    expect(queries.length).toBeGreaterThanOrEqual(2);
    for (const query of queries) {
      expect(query.attributes["db.system"]).toBe("mysql");
      expect(String(query.attributes["db.query.text"])).toContain("?");
    }
    const texts = queries.map((q) => String(q.attributes["db.query.text"])).join("\n");
    expect(texts).toMatch(/START TRANSACTION; SELECT/);
    expect(texts).toMatch(/COMMIT/);
    for (const value of [firmId, trackingId, "db@example.com", "Dee", "Bee"])
      expect(texts).not.toContain(value);

    const outcomes = receiver.spans.filter(rpcSpan(firmId));
    await receiver.waitFor((s) => rpcSpan(firmId)(s) && s.attributes["contacts.outcome"] === "updated");
    expect(
      outcomes.map((s) => [s.attributes["contacts.outcome"], s.attributes["contacts.matched_by"]]),
    ).toEqual(
      expect.arrayContaining([
        ["created", undefined],
        ["unchanged", "trackingId"],
      ]),
    );
  });

  it("puts a call's log lines, and x-request-id, in its trace", async () => {
    const firmId = uniqueFirm("tr-log");
    const traceId = hex(16);
    const response = await fetch(`${app.server.url}/contacts.v1.ContactService/UpsertContact`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        traceparent: `00-${traceId}-${hex(8)}-01`,
        "x-request-id": "req-tracing-1",
      },
      body: JSON.stringify({ firmId, email: "log@example.com", firstName: "L", lastName: "G" }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-request-id")).toBe("req-tracing-1");
    const span = await receiver.waitFor(rpcSpan(firmId));
    const line = logLines.find((l) => l.msg === "call" && l.firm === firmId);
    expect(line).toMatchObject({ requestId: "req-tracing-1", trace_id: traceId, span_id: span.spanId });
  });
});

describe("with tracing off", () => {
  it("exports nothing and logs no trace ids, even for a call that sends traceparent", async () => {
    const lines: Record<string, unknown>[] = [];
    const off = await startTracedApp(receiver, { OTEL_SDK_DISABLED: "true" }, lines);
    try {
      const firmId = uniqueFirm("tr-off");
      const response = await fetch(`${off.server.url}/contacts.v1.ContactService/UpsertContact`, {
        method: "POST",
        headers: { "content-type": "application/json", traceparent: `00-${hex(16)}-${hex(8)}-01` },
        body: JSON.stringify({ firmId, email: "off@example.com", firstName: "O", lastName: "F" }),
      });
      expect(response.status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(receiver.spans.filter((s) => s.attributes["contacts.firm_id"] === firmId)).toEqual([]);
      const line = lines.find((l) => l.msg === "call" && l.firm === firmId);
      expect(line).toBeDefined();
      expect(line).not.toHaveProperty("trace_id");
    } finally {
      await off.close();
    }
  });
});

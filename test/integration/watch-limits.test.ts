import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.js";
import { grpcJsClient } from "../support/clients.js";
import { uniqueFirm } from "../support/database.js";
import { connectWatch, grpcJsWatch } from "../support/watch.js";

// WatchContactChanges' bounds: stream caps, API key scope, shutdown, and HTTP/1.1 streams that
// outlive the request read timeout. Each test runs an instance with the settings it needs.

const apps: TestApp[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const app of apps) await app.close();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
async function start(env: Record<string, string>): Promise<TestApp> {
  const app = await startTestApp(env);
  apps.push(app);
  return app;
}

describe("WatchContactChanges bounds", () => {
  it("streams past FEED_MAX_FIRM_STREAMS or FEED_MAX_STREAMS are RESOURCE_EXHAUSTED; a closed stream frees its place", async () => {
    const app = await start({
      FEED_MAX_STREAMS: "3",
      FEED_MAX_FIRM_STREAMS: "2",
      FEED_HEARTBEAT_MS: "200",
    });
    const client = grpcJsClient(app.url);
    const [a, b] = [uniqueFirm("capa"), uniqueFirm("capb")];
    const open = [grpcJsWatch(client.raw, { firmId: a }), grpcJsWatch(client.raw, { firmId: a })];
    for (const watch of open) await watch.until((m) => m.length > 0);
    const thirdOfFirm = grpcJsWatch(client.raw, { firmId: a });
    expect(await thirdOfFirm.ended).toMatchObject({ code: "RESOURCE_EXHAUSTED" });
    const otherFirm = grpcJsWatch(client.raw, { firmId: b });
    await otherFirm.until((m) => m.length > 0);
    const fourth = connectWatch(createGrpcTransport({ baseUrl: app.url }), { firmId: b });
    expect((await fourth.ended)?.code).toBe("RESOURCE_EXHAUSTED");
    open[0]?.cancel();
    await open[0]?.ended;
    await new Promise((resolve) => setTimeout(resolve, 100));
    const again = grpcJsWatch(client.raw, { firmId: a });
    await again.until((m) => m.length > 0);
    for (const watch of [open[1], otherFirm, again]) watch?.cancel();
    client.close();
  });

  it("many watch streams on one HTTP/2 connection raise no MaxListenersExceededWarning", async () => {
    const app = await start({ FEED_HEARTBEAT_MS: "200" });
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on("warning", onWarning);
    const client = grpcJsClient(app.url);
    try {
      const firmId = uniqueFirm("many");
      const watches = Array.from({ length: 20 }, () => grpcJsWatch(client.raw, { firmId }));
      for (const watch of watches) await watch.until((m) => m.length > 0);
      for (const watch of watches) watch.cancel();
      expect(warnings.filter((message) => message.includes("EventTarget"))).toEqual([]);
    } finally {
      process.off("warning", onWarning);
      client.close();
    }
  });

  it("API keys scope the feed: another firm is PERMISSION_DENIED, and its changes never appear", async () => {
    const dir = await mkdtemp(join(tmpdir(), "contacts-keys-"));
    dirs.push(dir);
    const [mine, theirs] = [uniqueFirm("mine"), uniqueFirm("theirs")];
    const sha = (token: string) => createHash("sha256").update(token).digest("hex");
    const keys = join(dir, "keys.json");
    await writeFile(
      keys,
      JSON.stringify([
        { name: "mine", sha256: sha("tok-mine"), firms: [mine] },
        { name: "all", sha256: sha("tok-all"), firms: ["*"] },
      ]),
    );
    const app = await start({ API_KEYS_FILE: keys, FEED_HEARTBEAT_MS: "200" });
    const client = grpcJsClient(app.url);
    const auth = (token: string) => ({ authorization: `Bearer ${token}` });
    const denied = grpcJsWatch(client.raw, { firmId: theirs }, auth("tok-mine"));
    expect(await denied.ended).toMatchObject({ code: "PERMISSION_DENIED" });
    const deniedConnect = connectWatch(
      createConnectTransport({ baseUrl: app.url, httpVersion: "1.1" }),
      { firmId: theirs },
      auth("tok-mine"),
    );
    expect((await deniedConnect.ended)?.code).toBe("PERMISSION_DENIED");
    const anonymous = grpcJsWatch(client.raw, { firmId: mine });
    expect((await anonymous.ended)?.code).toBe("UNAUTHENTICATED");
    const watch = grpcJsWatch(client.raw, { firmId: mine }, auth("tok-mine"));
    await watch.until((m) => m.length > 0);
    for (const firmId of [theirs, mine, theirs]) {
      await client.upsert(
        { firmId, email: `${firmId}@example.com`, firstName: "A", lastName: "B" },
        { headers: auth("tok-all") },
      );
    }
    await watch.until((m) => m.flatMap((x) => x.changes).length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(watch.changes().map((c) => c.fields.find((f) => f.field === "email")?.newValue)).toEqual([
      `${mine}@example.com`,
    ]);
    watch.cancel();
    client.close();
  });

  it("Connect streaming over HTTP/1.1 outlives REQUEST_READ_TIMEOUT_MS and the call deadline cap (MAX_TIMEOUT_MS)", async () => {
    const app = await start({
      REQUEST_READ_TIMEOUT_MS: "500",
      MAX_TIMEOUT_MS: "1000",
      FEED_HEARTBEAT_MS: "250",
    });
    const firmId = uniqueFirm("long");
    const watch = connectWatch(createConnectTransport({ baseUrl: app.url, httpVersion: "1.1" }), { firmId });
    await watch.until((m) => m.length >= 10, 6_000);
    expect((watch.receivedAt.at(-1) ?? 0) - (watch.receivedAt[0] ?? 0)).toBeGreaterThan(2_000);
    const client = grpcJsClient(app.url);
    await client.upsert({ firmId, email: "still@example.com", firstName: "S", lastName: "T" });
    await watch.until((m) => m.flatMap((x) => x.changes).length >= 1);
    watch.cancel();
    expect(await watch.ended).toBeUndefined();
    client.close();
  });

  it("at shutdown, streams end at once with UNAVAILABLE, not after the grace period", async () => {
    const app = await start({ SHUTDOWN_GRACE_MS: "5000", FEED_HEARTBEAT_MS: "60000" });
    const client = grpcJsClient(app.url);
    const firmId = uniqueFirm("bye");
    await client.upsert({ firmId, email: "x@example.com", firstName: "X", lastName: "Y" });
    const watches = [
      grpcJsWatch(client.raw, { firmId, startTime: timestampFromMs(0) }),
      connectWatch(createConnectTransport({ baseUrl: app.url, httpVersion: "1.1" }), {
        firmId,
        startTime: timestampFromMs(0),
      }),
    ];
    for (const watch of watches) await watch.until((m) => m.length > 0);
    const began = performance.now();
    const closed = app.close();
    const ends = await Promise.all(watches.map((watch) => watch.ended));
    expect(ends.map((end) => end?.code)).toEqual(["UNAVAILABLE", "UNAVAILABLE"]);
    expect(performance.now() - began).toBeLessThan(2_000);
    await closed;
    apps.splice(apps.indexOf(app), 1);
    client.close();
  });
});

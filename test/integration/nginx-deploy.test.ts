import { setTimeout as sleep } from "node:timers/promises";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, describe, expect, it } from "vitest";
import type { ContactChange } from "../../gen/contacts/v1/contact_service_pb.js";
import { connectJsonH1, failure, grpcJsClient, type UpsertClient } from "../support/clients.js";
import { closeSqlPool, sql, uniqueFirm } from "../support/database.js";
import { freePort, NGINX_MISSING, type RunningNginx, startNginx } from "../support/nginx.js";
import { type ServerProcess, spawnServer } from "../support/server-process.js";
import { grpcJsWatch } from "../support/watch.js";

// A long test (three instances, nginx, a minute of restarts): `npm run test:long` runs it for CHAOS_SECONDS.
const SECONDS = Number(process.env.CHAOS_SECONDS ?? 0);
const WORKERS_PER_CLIENT = 8;
const SKIP =
  NGINX_MISSING ?? (SECONDS > 0 ? undefined : "a long test: runs in npm run test:long (CHAOS_SECONDS)");

if (SKIP) console.warn(`skipped nginx-deploy.test.ts: ${SKIP}`);

afterAll(async () => {
  await closeSqlPool();
});

describe.skipIf(SKIP !== undefined)("three instances behind nginx (deploy/nginx.conf.template)", () => {
  it(
    "are restarted one after another under load: no HTTP/1.1 call fails, and a gRPC call only if reset with the closing listener (rare)",
    async () => {
      const ports = [await freePort(), await freePort(), await freePort()];
      const instances: ServerProcess[] = await Promise.all(
        ports.map((port) => spawnServer({ PORT: String(port), LOG_LEVEL: "info" })),
      );
      let nginx: RunningNginx | undefined;
      const clients: UpsertClient[] = [];
      try {
        nginx = await startNginx(ports.map((port) => `127.0.0.1:${port}`));
        clients.push(grpcJsClient(nginx.grpcUrl), connectJsonH1(nginx.httpUrl));
        const firmId = uniqueFirm("nginx");
        const acknowledged: string[] = [];
        const failures: Record<string, number> = {};
        const okBy: Record<string, number> = {};
        let running = true;
        let n = 0;
        const worker = async (client: UpsertClient) => {
          while (running) {
            const trackingId = `T${n++}`;
            try {
              await client.upsert(
                { firmId, trackingId, email: `${trackingId}@example.com`, firstName: "N", lastName: "G" },
                { timeoutMs: 15_000 },
              );
              acknowledged.push(trackingId);
              okBy[client.name] = (okBy[client.name] ?? 0) + 1;
            } catch (error) {
              const { code, message } = await failure(Promise.reject(error));
              const key = `${client.name} ${code}: ${message}`;
              failures[key] = (failures[key] ?? 0) + 1;
            }
          }
        };
        // A watch of the firm through nginx for the whole test, resumed with its last token whenever a restart
        // ends it: a long-lived stream that must see every stored contact once.
        const watcher = grpcJsClient(nginx.grpcUrl);
        clients.push(watcher);
        const watched = resumingWatch(watcher.raw, firmId);
        const load = Promise.all(
          clients
            .filter((client) => client !== watcher)
            .flatMap((client) => Array.from({ length: WORKERS_PER_CLIENT }, () => worker(client))),
        );
        await sleep(500);
        const restarts: number[] = [];
        const until = Date.now() + SECONDS * 1_000;
        do {
          for (const [i, port] of ports.entries()) {
            const before = acknowledged.length;
            expect(await instances[i]?.stop("SIGTERM")).toBe(0);
            instances[i] = await spawnServer({ PORT: String(port), LOG_LEVEL: "info" });
            // A rolling restart stops the next instance only once this one takes traffic again: nginx retries a
            // failed instance after fail_timeout, and with every instance marked failed it has none to send to.
            await servingBothProtocols(instances[i] as ServerProcess);
            restarts.push(acknowledged.length - before);
          }
        } while (Date.now() < until);
        running = false;
        await load;

        const errorLog = await nginx.errorLog();
        console.info(
          `behind nginx: ${acknowledged.length} calls answered (${JSON.stringify(okBy)}), calls per restart ${JSON.stringify(restarts)}, failures ${JSON.stringify(failures)}; nginx's error log: ${JSON.stringify(logKinds(errorLog))}`,
        );
        // Nothing fails but for one race the drain cannot close: nginx's connection whose handshake the kernel
        // completed in the instant before the listener closed, not yet accepted by Node, is reset with the
        // listener, after nginx sent it a gRPC call (which it never retries). nginx logs each such reset; every
        // other failure it saw was a refused connection, retried on another instance.
        const resets = errorLog
          .split("\n")
          .filter(
            (line) => line.includes("recv() failed (104") && line.includes('upstream: "grpc://'),
          ).length;
        expect(
          Object.keys(logKinds(errorLog)).filter((kind) => !RETRIED.has(kind) && !RESET.test(kind)),
        ).toEqual([]);
        const { [GRPC_RESET]: grpcReset = 0, ...others } = failures;
        expect(others, errorLog).toEqual({});
        expect(grpcReset).toBe(resets);
        // Rare: nginx mostly reuses its pooled connections (seen once in 39 restarts).
        expect(grpcReset).toBeLessThanOrEqual(Math.ceil(restarts.length / 10));
        // Both clients kept being served through every restart.
        for (const client of clients) expect(okBy[client.name] ?? 0).toBeGreaterThan(20);
        for (const served of restarts) expect(served).toBeGreaterThan(0);
        // Every answered call was stored, once.
        const rows = await sql<{ tracking_id: string }>(
          "SELECT tracking_id FROM contacts WHERE firm_id = ?",
          [firmId],
        );
        const stored = new Set(rows.map((row) => row.tracking_id));
        expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
        expect(rows.length).toBe(stored.size);
        // The watch saw every stored contact created, once, across the restarts.
        const { created, ends } = await watched.stopAfter(rows.length);
        console.info(`the watch through nginx was ended ${JSON.stringify(ends)} and resumed each time`);
        expect(created.length).toBe(rows.length);
        expect(new Set(created).size).toBe(rows.length);
      } finally {
        for (const client of clients) client.close();
        await nginx?.stop();
        await Promise.all(instances.map((instance) => instance.stop()));
      }
    },
    SECONDS * 1_000 + 90_000,
  );
});

/**
 * Watches the firm from the start of time, resuming with the last resume token whenever the stream ends (an
 * instance's shutdown ends it with UNAVAILABLE). `stopAfter(n)` waits for n created contacts, then stops.
 */
function resumingWatch(raw: ReturnType<typeof grpcJsClient>["raw"], firmId: string) {
  const changes: ContactChange[] = [];
  const ends: Record<string, number> = {};
  let stopping = false;
  let current: ReturnType<typeof grpcJsWatch> | undefined;
  const loop = (async () => {
    let token = "";
    while (!stopping) {
      const watch = grpcJsWatch(
        raw,
        token === "" ? { firmId, startTime: timestampFromMs(0) } : { firmId, resumeToken: token },
      );
      current = watch;
      const end = await watch.ended;
      changes.push(...watch.changes());
      token = watch.lastToken() || token;
      if (stopping) break;
      const key = end ? `${end.code}` : "ended cleanly";
      ends[key] = (ends[key] ?? 0) + 1;
      await sleep(100);
    }
  })();
  const createdIds = () => [...changes, ...(current?.changes() ?? [])].filter((c) => c.kind === 1);
  return {
    async stopAfter(count: number) {
      for (const until = Date.now() + 30_000; createdIds().length < count && Date.now() < until; )
        await sleep(100);
      stopping = true;
      current?.cancel();
      await loop;
      return { created: changes.filter((c) => c.kind === 1).map((c) => c.contactId), ends };
    },
  };
}

/** What grpc-js reports for a call nginx sent on a connection the instance then reset. */
const GRPC_RESET = "grpc-js UNAVAILABLE: Received HTTP status code 502";
const RESET =
  /recv\(\) failed \(104: Connection reset by peer\) while reading response header from upstream|upstream server temporarily disabled while reading response header from upstream/;
/** What nginx logs for a failure it retries on another instance, nothing sent. */
const RETRIED = new Set([
  "connect() failed (111: Connection refused) while connecting to upstream",
  "upstream server temporarily disabled while connecting to upstream",
]);

/** Resolves once the instance has logged a gRPC and a Connect JSON call: nginx sends it both kinds again. */
async function servingBothProtocols(instance: ServerProcess): Promise<void> {
  const serves = (protocol: string) => instance.output().includes(`"protocol":"${protocol}"`);
  for (const until = Date.now() + 20_000; !(serves("application/grpc") && serves("application/json")); ) {
    if (Date.now() > until) throw new Error(`nginx sent no call of both kinds to ${instance.url} in 20 s`);
    await sleep(50);
  }
}

/** nginx's error log lines counted by what happened, without times, ids and ports. */
function logKinds(log: string): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const line of log.split("\n")) {
    const what = /\[(?:error|warn)\] [^*]*\*\d+ ([^,]*)/.exec(line)?.[1];
    if (what) kinds[what] = (kinds[what] ?? 0) + 1;
  }
  return kinds;
}

import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { connectJsonH1, failure, grpcJsClient, type UpsertClient } from "../support/clients.js";
import { closeSqlPool, sql, uniqueFirm } from "../support/database.js";
import { freePort, NGINX_MISSING, type RunningNginx, startNginx } from "../support/nginx.js";
import { type ServerProcess, spawnServer } from "../support/server-process.js";

// A long test (three instances, nginx, a minute of restarts): `npm run test:chaos` runs it for CHAOS_SECONDS.
const SECONDS = Number(process.env.CHAOS_SECONDS ?? 0);
const WORKERS_PER_CLIENT = 8;
const SKIP =
  NGINX_MISSING ?? (SECONDS > 0 ? undefined : "a long test: runs in npm run test:chaos (CHAOS_SECONDS)");

if (SKIP) console.warn(`skipped nginx-deploy.test.ts: ${SKIP}`);

afterAll(async () => {
  await closeSqlPool();
});

describe.skipIf(SKIP !== undefined)("three instances behind nginx (deploy/nginx.conf.template)", () => {
  it(
    "are restarted one after another under load: no HTTP/1.1 call fails, and a gRPC call only as UNAVAILABLE",
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
        let grpcRefused = 0;
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
              // nginx retries an HTTP/1.1 call itself (it buffers the request), but a gRPC call only until it
              // has begun to forward it: one the instance then dropped reaches the client as UNAVAILABLE
              // (HTTP 502), which the client may retry (the RPC is idempotent).
              if (client.name === "grpc-js" && code === "UNAVAILABLE" && /502/.test(message)) {
                grpcRefused++;
                continue;
              }
              const key = `${client.name} ${code}: ${message}`;
              failures[key] = (failures[key] ?? 0) + 1;
            }
          }
        };
        const load = Promise.all(
          clients.flatMap((client) => Array.from({ length: WORKERS_PER_CLIENT }, () => worker(client))),
        );
        await sleep(500);
        const restarts: number[] = [];
        const until = Date.now() + SECONDS * 1_000;
        do {
          for (const [i, port] of ports.entries()) {
            const before = acknowledged.length;
            expect(await instances[i]?.stop("SIGTERM")).toBe(0);
            instances[i] = await spawnServer({ PORT: String(port), LOG_LEVEL: "info" });
            // Let nginx find the new instance (it retries a failed one after fail_timeout) under load.
            await sleep(500);
            restarts.push(acknowledged.length - before);
          }
        } while (Date.now() < until);
        running = false;
        await load;

        console.info(
          `behind nginx: ${acknowledged.length} calls answered (${JSON.stringify(okBy)}), calls per restart ${JSON.stringify(restarts)}, gRPC calls dropped as an instance stopped ${grpcRefused}, failures ${JSON.stringify(failures)}`,
        );
        expect(failures, await nginx.errorLog()).toEqual({});
        // Only calls caught on their way as an instance stopped: a few per restart, whatever the throughput.
        expect(grpcRefused).toBeLessThanOrEqual(3 * restarts.length);
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
      } finally {
        for (const client of clients) client.close();
        await nginx?.stop();
        await Promise.all(instances.map((instance) => instance.stop()));
      }
    },
    SECONDS * 1_000 + 90_000,
  );
});

import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import {
  connectJsonH1,
  failure,
  grpcJsClient,
  type UpsertClient,
  type UpsertInit,
} from "../support/clients.js";
import { closeSqlPool, uniqueFirm } from "../support/database.js";
import { spawnServer } from "../support/server-process.js";

// `npm test` soaks for a few seconds; `npm run soak` for two minutes (SOAK_SECONDS=120).
const SECONDS = Number(process.env.SOAK_SECONDS ?? 4);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 64);
const KEYS = 2_000;

afterAll(async () => {
  await closeSqlPool();
});

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
const rssMb = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;

interface Half {
  calls: number;
  latencies: number[];
  rss: number[];
}

describe(`a ${SECONDS} s soak at ${CONCURRENCY} calls in flight over gRPC and Connect JSON`, () => {
  it(
    "has no error, and latency and memory hold steady from the first half to the second",
    async () => {
      const server = await spawnServer({ DB_POOL_SIZE: "20" });
      const pid = server.child.pid as number;
      const clients: UpsertClient[] = [grpcJsClient(server.url), connectJsonH1(server.url)];
      const firms = [uniqueFirm("soak-a"), uniqueFirm("soak-b")];
      const halves: [Half, Half] = [
        { calls: 0, latencies: [], rss: [] },
        { calls: 0, latencies: [], rss: [] },
      ];
      const errors: Record<string, number> = {};
      const started = Date.now();
      const end = started + SECONDS * 1_000;
      const half = () => (Date.now() - started < (SECONDS * 1_000) / 2 ? 0 : 1);
      let n = 0;
      const request = (i: number): UpsertInit => {
        const key = i % KEYS;
        const base = {
          firmId: firms[key % 2] as string,
          firstName: `F${i}`,
          lastName: "Soak",
          city: `C${i % 97}`,
        };
        // Half by tracking id, half by email in varying letter case: creates first, then updates.
        return i % 2 === 0
          ? { ...base, trackingId: `T${key}`, email: `t${key}@soak.example.com` }
          : { ...base, email: i % 4 === 1 ? `E${key}@SOAK.example.com` : `e${key}@soak.example.com` };
      };
      const worker = async (w: number) => {
        while (Date.now() < end) {
          const i = n++;
          const t0 = performance.now();
          try {
            await (clients[w % 2] as UpsertClient).upsert(request(i), { timeoutMs: 10_000 });
            const h = halves[half()];
            h.calls++;
            h.latencies.push(performance.now() - t0);
          } catch (error) {
            const { code, message } = await failure(Promise.reject(error));
            errors[`${code}: ${message}`] = (errors[`${code}: ${message}`] ?? 0) + 1;
          }
        }
      };
      const sampler = (async () => {
        while (Date.now() < end) {
          halves[half()].rss.push(rssMb(pid));
          await sleep(250);
        }
      })();
      await Promise.all([...Array.from({ length: CONCURRENCY }, (_, w) => worker(w)), sampler]);
      for (const client of clients) client.close();
      expect(await server.stop()).toBe(0);

      const report = halves.map((h, i) => {
        const sorted = h.latencies.sort((a, b) => a - b);
        return {
          half: i + 1,
          calls: h.calls,
          callsPerSecond: Math.round(h.calls / (SECONDS / 2)),
          p50Ms: Number(percentile(sorted, 0.5).toFixed(1)),
          p99Ms: Number(percentile(sorted, 0.99).toFixed(1)),
          rssMaxMb: Math.round(Math.max(...h.rss)),
        };
      });
      console.info(`soak: ${JSON.stringify(report)}; errors ${JSON.stringify(errors)}`);
      expect(errors).toEqual({});
      const [first, second] = report as [(typeof report)[0], (typeof report)[0]];
      expect(first.calls).toBeGreaterThan(0);
      expect(second.calls).toBeGreaterThan(0);
      // Memory holds steady from the first half to the second.
      expect(second.rssMaxMb).toBeLessThan(first.rssMaxMb * 1.5 + 50);
      // So does latency, measured against the first half of the same run (the machine's speed varies): the
      // second half's median within twice the first's plus 20 ms, its p99 within three times plus 100 ms.
      expect(second.p50Ms).toBeLessThan(first.p50Ms * 2 + 20);
      expect(second.p99Ms).toBeLessThan(first.p99Ms * 3 + 100);
    },
    SECONDS * 1_000 + 60_000,
  );
});

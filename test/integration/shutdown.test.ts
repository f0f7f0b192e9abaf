import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { allClients, failure, type UpsertClient, type UpsertInit } from "../support/clients.js";
import { closeSqlPool, sql, uniqueFirm } from "../support/database.js";
import { spawnServer } from "../support/server-process.js";

afterAll(async () => {
  await closeSqlPool();
});

describe("SIGTERM during a burst of calls over gRPC and Connect", () => {
  it("lets each call succeed and be stored, or fail UNAVAILABLE; none hangs and the process exits 0", async () => {
    const firmId = uniqueFirm("sigterm");
    const server = await spawnServer({ SHUTDOWN_GRACE_MS: "3000" });
    const clients: UpsertClient[] = allClients(server.url);
    const request = (i: number): UpsertInit => ({
      firmId,
      trackingId: `T${i}`,
      email: `s${i}@example.com`,
      firstName: "S",
      lastName: `${i}`,
    });
    const succeeded: number[] = [];
    const seen = new Set<string>();
    const refused: number[] = [];
    const codes: Record<string, number> = {};
    let next = 0;
    let exitCode: number | null | undefined;
    const worker = async (w: number) => {
      // Keep calling until the server is gone, so calls are in flight at every stage of the shutdown.
      while (exitCode === undefined) {
        const i = next++;
        const client = clients[w % clients.length] as UpsertClient;
        try {
          await client.upsert(request(i), { timeoutMs: 8_000 });
          succeeded.push(i);
          codes.OK = (codes.OK ?? 0) + 1;
        } catch (error) {
          const { code, message } = await failure(Promise.reject(error));
          // HTTP/2 REFUSED_STREAM guarantees the call was not processed; grpc-js retries it by itself, while
          // connect-node reports it. It stays a legitimate outcome only if the call left nothing behind.
          if (/REFUSED_STREAM/.test(message)) refused.push(i);
          else if (code !== "UNAVAILABLE") seen.add(`${client.name} ${code} ${message}`);
          codes[code] = (codes[code] ?? 0) + 1;
          if (code === "UNAVAILABLE") await sleep(20);
        }
      }
    };
    const burst = Promise.all(Array.from({ length: 20 }, (_, w) => worker(w)));
    await sleep(600);
    exitCode = await server.stop("SIGTERM");
    const started = Date.now();
    await burst;
    for (const client of clients) client.close();
    console.info([...seen].join("\n"));
    console.info(
      `calls ${next}: ${JSON.stringify(codes)}; clients done ${Date.now() - started} ms after exit`,
    );

    expect(exitCode).toBe(0);
    expect([...seen]).toEqual([]);
    const stored = new Set(
      (
        await sql<{ tracking_id: string }>("SELECT tracking_id FROM contacts WHERE firm_id = ?", [firmId])
      ).map((r) => r.tracking_id),
    );
    expect(succeeded.filter((i) => !stored.has(`T${i}`))).toEqual([]);
    expect(refused.filter((i) => stored.has(`T${i}`))).toEqual([]);
    expect(server.output()).toMatch(/"msg":"shutting down"/);
  });
});

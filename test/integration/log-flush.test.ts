import { once } from "node:events";
import { afterAll, describe, expect, it } from "vitest";
import { allClients } from "../support/clients.js";
import { closeSqlPool, uniqueFirm } from "../support/database.js";
import { spawnServer } from "../support/server-process.js";

afterAll(async () => {
  await closeSqlPool();
});

// Enough lines to overfill the pipe to the test (64 KiB) and the reader's buffer while the test does not read.
const CALLS = 600;

describe("log lines, written asynchronously, on SIGTERM", () => {
  it("are all on stdout when the process has exited: every call's line, 'shutting down' and 'stopped' last", async () => {
    const firmId = uniqueFirm("logflush");
    const server = await spawnServer();
    // Everything the process writes, untrimmed, until its stdout closes (which may be after its exit event).
    let stdout = "";
    server.child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const closed = once(server.child, "close");
    // Not read until after SIGTERM: the server's writes then wait on a full pipe, and lines are still buffered
    // in the process when it is told to stop, as when a log shipper falls behind.
    server.child.stdout?.pause();
    const clients = allClients(server.url);
    let next = 0;
    const worker = async (w: number) => {
      const client = clients[w % clients.length];
      for (let i = next++; i < CALLS; i = next++) {
        await client?.upsert({
          firmId,
          trackingId: `L${i}`,
          email: `l${i}@example.com`,
          firstName: "L",
          lastName: `${i}`,
        });
      }
    };
    await Promise.all(Array.from({ length: 20 }, (_, w) => worker(w)));
    // At once after the last answer: its line, and the shutdown's, are the ones a lost buffer would drop.
    const stopped = server.stop("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 500));
    server.child.stdout?.resume();
    const exitCode = await stopped;
    await closed;
    for (const client of clients) client.close();

    expect(exitCode).toBe(0);
    const lines = stdout
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as { msg?: string; firm?: string; code?: string });
    const calls = lines.filter((line) => line.msg === "call" && line.firm === firmId);
    expect(calls.length).toBe(CALLS);
    expect(calls.every((line) => line.code === "OK")).toBe(true);
    expect(lines.some((line) => line.msg === "shutting down")).toBe(true);
    expect(lines[lines.length - 1]?.msg).toBe("stopped");
  });
});

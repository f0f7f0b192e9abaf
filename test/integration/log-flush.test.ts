import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { closeSqlPool, uniqueFirm } from "../support/database.js";
import { spawnServer } from "../support/server-process.js";

afterAll(async () => {
  await closeSqlPool();
});

// About 230 bytes of log line each: several times what the pipe and the test's own stream buffer hold.
const CALLS = 1_200;

/** One Connect JSON upsert with its own request id; resolves with the HTTP status. */
async function upsert(url: string, firmId: string, i: number): Promise<number> {
  const response = await fetch(`${url}/contacts.v1.ContactService/UpsertContact`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-request-id": `flush-${i}` },
    body: JSON.stringify({
      firmId,
      trackingId: `T${i}`,
      email: `f${i}@example.com`,
      firstName: "F",
      lastName: `${i}`,
    }),
  });
  await response.arrayBuffer();
  return response.status;
}

describe("log lines are written asynchronously", () => {
  it("loses none at SIGTERM, even with stdout unread while the calls ran: every call's line, then 'stopped'", async () => {
    const firmId = uniqueFirm("log-flush");
    // No accept linger: the drain is over at once, and the process is left waiting for its unread lines.
    const server = await spawnServer({ SHUTDOWN_ACCEPT_MS: "0" });
    // Nobody reads stdout while the calls run: the pipe fills (64 KiB) and the rest waits in the server's buffer,
    // which an exit that did not flush it would lose.
    let output = "";
    server.child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    server.child.stdout?.pause();
    const statuses: number[] = [];
    let next = 0;
    const worker = async () => {
      while (next < CALLS) statuses.push(await upsert(server.url, firmId, next++));
    };
    await Promise.all(Array.from({ length: 16 }, () => worker()));
    expect(statuses.filter((s) => s !== 200)).toEqual([]);

    const exited = server.stop("SIGTERM");
    // Long enough for the service to close and reach its exit with lines still unwritten: it must still be there,
    // writing them, rather than gone with them in its buffer.
    await sleep(2_500);
    const waitedForLines = server.child.exitCode === null;
    server.child.stdout?.resume();
    expect(await exited).toBe(0);
    expect(waitedForLines).toBe(true);

    // All of it, not the server helper's tail (output() keeps the last 256 KiB).
    const lines = output
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { msg: string; requestId?: string; firm?: string });
    const logged = new Set(
      lines.filter((l) => l.msg === "call" && l.firm === firmId).map((l) => l.requestId ?? ""),
    );
    const missing = Array.from({ length: CALLS }, (_, i) => `flush-${i}`).filter((id) => !logged.has(id));
    console.info(`${lines.length} lines; call lines of this test ${logged.size} of ${CALLS}`);
    expect(missing).toEqual([]);
    expect(lines.at(-1)?.msg).toBe("stopped");
  });
});

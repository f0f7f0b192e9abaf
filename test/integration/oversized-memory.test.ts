import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerProcess, spawnServer } from "../support/server-process.js";

const PATH = "/contacts.v1.ContactService/UpsertContact";
const LIMIT = 65_536;
const BODY = 4 * 1024 * 1024;
const ROUNDS = 10;

const rssMiB = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) / 1024;

let server: ServerProcess;
beforeAll(async () => {
  // What is measured is memory the server holds on to, not how long dead socket chunks wait for a collection:
  // Node 24 sizes its young generation from the machine's memory (192 MiB here, against Node 20's 48 MiB), so
  // without this garbage alone would grow RSS by 40-50 MiB. A small young generation collects it promptly.
  server = await spawnServer({
    MAX_REQUEST_BYTES: String(LIMIT),
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --max-semi-space-size=1`.trim(),
  });
});
afterAll(async () => {
  await server.stop();
});

/**
 * Posts `size` bytes of JSON-ish text, declared up front or streamed in chunks without a length. Resolves with
 * the HTTP status, "closed" when the server closed the connection before the client had sent everything (also a
 * refusal), or what else went wrong ("timeout" and the like, which are not refusals).
 */
async function postOversized(chunked: boolean): Promise<number | string> {
  const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
  const body = chunked
    ? new ReadableStream<Uint8Array>({
        start(controller) {
          for (let sent = 0; sent < BODY; sent += chunk.length) controller.enqueue(chunk);
          controller.close();
        },
      })
    : new Uint8Array(BODY);
  try {
    const response = await fetch(`${server.url}${PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      duplex: "half", // Node's fetch needs this to stream a request body
      signal: AbortSignal.timeout(10_000),
    });
    await response.arrayBuffer();
    return response.status;
  } catch (error) {
    if ((error as Error).name === "TimeoutError") return "timeout";
    const code = ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code ?? "";
    // The server answered 429 and closed the connection while the client was still sending.
    return ["ECONNRESET", "EPIPE", "UND_ERR_SOCKET"].includes(code) ? "closed" : `${code || error}`;
  }
}

describe("oversized request bodies", () => {
  it("are refused without the server holding them in memory", async () => {
    const pid = server.child.pid as number;
    const round = () => Promise.all(Array.from({ length: 8 }, (_, i) => postOversized(i % 2 === 1)));
    // A first round warms up buffers and compiled code, which grow once whatever the traffic.
    const statuses: (number | string)[] = await round();
    const before = rssMiB(pid);
    for (let n = 0; n < ROUNDS; n++) statuses.push(...(await round()));
    const after = rssMiB(pid);
    console.info(
      `${8 * ROUNDS} bodies after a warm-up round, each ${BODY / 1048576} MiB: statuses ${JSON.stringify([...new Set(statuses)])}, RSS ${before.toFixed(0)} -> ${after.toFixed(0)} MiB`,
    );
    // Refused, every one: a 429, or a connection the server closed on a client still sending. A timeout or any
    // other failure is not a refusal.
    expect(statuses.filter((status) => status !== 429 && status !== "closed")).toEqual([]);
    // Bodies that declare their length are answered 429 before they are read.
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(statuses.length / 2);
    // 320 MiB were sent after the warm-up; the server's memory must not follow.
    expect(after - before).toBeLessThan(40);
  });
});

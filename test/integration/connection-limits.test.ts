import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { UpsertResult } from "../../gen/contacts/v1/contact_service_pb.js";
import { startTestApp } from "../support/app.js";
import { grpcJsClient } from "../support/clients.js";
import { closeSqlPool, uniqueFirm } from "../support/database.js";
import { spawnServer } from "../support/server-process.js";

afterAll(async () => {
  await closeSqlPool();
});

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
// An empty SETTINGS frame: length 0, type 4, no flags, stream 0.
const SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);

/** Opens argv[2] connections to port argv[1] that send the preface and SETTINGS only, and reports a line. */
const FLOOD = `
const net = require("node:net");
const [port, count] = process.argv.slice(1).map(Number);
const hello = Buffer.concat([Buffer.from("PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n"), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);
const started = Date.now();
let connected = 0, closed = 0, settled = 0;
const settle = () => { if (++settled === count) process.stdout.write("done: " + connected + " connected, " + closed + " closed by the server, in " + (Date.now() - started) + " ms\\n"); };
(async () => {
  for (let i = 0; i < count; i++) {
    let done = false;
    const once = () => { if (!done) { done = true; settle(); } };
    const socket = net.connect(port, "127.0.0.1", () => {
      if (++connected % 1000 === 0) process.stdout.write("connected " + connected + "\\n");
      socket.write(hello);
      once();
    });
    socket.on("error", () => undefined);
    socket.on("data", () => undefined);
    socket.on("close", () => { closed++; once(); });
    if (i % 250 === 249) await new Promise((resolve) => setTimeout(resolve, 20));
  }
})();
setInterval(() => {}, 1000);
`;

/** A raw connection that sends `bytes` and nothing more; `closed` resolves with the ms it stayed open. */
function rawConnection(port: number, bytes: Buffer) {
  const socket = net.connect(port, "127.0.0.1");
  const opened = performance.now();
  socket.on("error", () => undefined);
  socket.on("data", () => undefined);
  socket.once("connect", () => socket.write(bytes));
  const closed = new Promise<number>((resolve) =>
    socket.once("close", () => resolve(performance.now() - opened)),
  );
  const connected = new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  return { socket, closed, connected };
}

/** GET /healthz over a fresh HTTP/1.1 connection: the status, or the error's code. */
async function healthz(port: number): Promise<number | string> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/healthz`, {
      signal: AbortSignal.timeout(5_000),
      headers: { connection: "close" },
    });
    await response.text();
    return response.status;
  } catch (error) {
    return ((error as Error).cause as NodeJS.ErrnoException)?.code ?? String(error);
  }
}

/** A Health/Watch over raw HTTP/2: resolves with the grpc-status it was refused with, or "open" once it streams. */
function rawWatch(session: http2.ClientHttp2Session): Promise<string> {
  return new Promise((resolve) => {
    const stream = session.request({
      ":method": "POST",
      ":path": "/grpc.health.v1.Health/Watch",
      "content-type": "application/grpc",
      te: "trailers",
    });
    stream.on("error", () => resolve("error"));
    stream.on("response", (headers) => {
      if (headers["grpc-status"] !== undefined) resolve(`status ${headers["grpc-status"]}`);
    });
    stream.on("trailers", (trailers) => resolve(`status ${trailers["grpc-status"]}`));
    stream.on("data", () => resolve("open"));
    // An empty HealthCheckRequest: one uncompressed gRPC frame of length 0.
    stream.end(Buffer.alloc(5));
  });
}

describe("CONNECTION_FIRST_REQUEST_MS", () => {
  it("closes silent, preface-only and SETTINGS-only connections, not one that has completed a request", async () => {
    const app = await startTestApp({ CONNECTION_FIRST_REQUEST_MS: "300", REQUEST_READ_TIMEOUT_MS: "5000" });
    try {
      const silent = rawConnection(app.port, Buffer.alloc(0));
      const preface = rawConnection(app.port, PREFACE);
      const settings = rawConnection(app.port, Buffer.concat([PREFACE, SETTINGS]));
      const h1Partial = rawConnection(app.port, Buffer.from("GET /healthz HTTP/1.1\r\n"));
      // A client that has made one request keeps its connection past the limit.
      const session = http2.connect(app.url);
      session.on("error", () => undefined);
      const answered = await new Promise<number>((resolve) => {
        const request = session.request({ ":path": "/healthz" });
        request.on("response", (headers) => resolve(Number(headers[":status"])));
        request.resume();
        request.end();
      });
      expect(answered).toBe(200);
      const lifetimes = await Promise.all([silent.closed, preface.closed, settings.closed, h1Partial.closed]);
      console.info(`first-request limit 300 ms: connections closed after ${lifetimes.map(Math.round)} ms`);
      for (const ms of lifetimes) {
        expect(ms).toBeGreaterThanOrEqual(250);
        expect(ms).toBeLessThan(2_000);
      }
      await sleep(500);
      expect(session.closed || session.destroyed).toBe(false);
      session.close();
    } finally {
      await app.close();
    }
  });
});

describe("MAX_CONNECTIONS", () => {
  it("closes the oldest idle connection to make room, and refuses a new one at once when none is idle", async () => {
    const app = await startTestApp({ MAX_CONNECTIONS: "4", CONNECTION_FIRST_REQUEST_MS: "60000" });
    const sessions: http2.ClientHttp2Session[] = [];
    try {
      const idle = Array.from({ length: 4 }, () => rawConnection(app.port, PREFACE));
      await Promise.all(idle.map((c) => c.connected));
      await sleep(100);
      // The fifth connection closes the oldest idle one, and the next ones the next oldest.
      expect(await healthz(app.port)).toBe(200);
      expect(await Promise.race([idle[0]?.closed, sleep(1_000, "open")])).not.toBe("open");
      expect(idle[3]?.socket.destroyed).toBe(false);
      for (const c of idle) c.socket.destroy();
      await sleep(100);

      // Four connections each with a call in flight (a Watch stream): none is idle.
      for (let i = 0; i < 4; i++) {
        const session = http2.connect(app.url);
        session.on("error", () => undefined);
        sessions.push(session);
        expect(await rawWatch(session)).toBe("open");
      }
      const started = performance.now();
      const refused = rawConnection(app.port, Buffer.from("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
      const lifetime = await Promise.race([refused.closed, sleep(3_000, -1)]);
      console.info(
        `at the cap with no idle connection, a new one was closed after ${Math.round(lifetime)} ms`,
      );
      expect(lifetime).toBeGreaterThanOrEqual(0);
      expect(performance.now() - started).toBeLessThan(1_000);
      // The busy ones were left alone.
      for (const session of sessions) expect(session.destroyed).toBe(false);
    } finally {
      for (const session of sessions) session.destroy();
      await app.close();
    }
  });

  it("during a flood of 5,000 preface-only connections, a new grpc-js client's upsert succeeds and descriptors stay under the cap", async () => {
    // The server gets a soft limit of 1024 open files, so MAX_CONNECTIONS defaults to 512, and warns.
    const server = await spawnServer({ CONNECTION_FIRST_REQUEST_MS: "10000" }, { descriptorLimit: 1_024 });
    const pid = server.child.pid as number;
    const { port } = new URL(server.url);
    const baseline = readdirSync(`/proc/${pid}/fd`).length;
    let maxDescriptors = baseline;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        try {
          maxDescriptors = Math.max(maxDescriptors, readdirSync(`/proc/${pid}/fd`).length);
        } catch {
          // the process is gone
        }
        await sleep(10);
      }
    })();
    // The flood comes from a process of its own, as an attacker would: this one stays free for the client.
    const flood = spawn(process.execPath, ["-e", FLOOD, port as string, "5000"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let floodReport = "";
    flood.stdout.on("data", (chunk: Buffer) => {
      floodReport += chunk.toString();
    });
    const reported = (text: string) =>
      new Promise<void>((resolve) => {
        const check = () => (floodReport.includes(text) ? resolve() : flood.stdout.once("data", check));
        check();
      });
    const floodDone = reported("done: ");
    const client = grpcJsClient(server.url);
    try {
      // Well past the cap (512): the flood goes on while the client connects and calls.
      await reported("connected 2000");
      const started = performance.now();
      const answer = await client.upsert(
        {
          firmId: uniqueFirm("flood"),
          trackingId: "T1",
          email: "flood@example.com",
          firstName: "F",
          lastName: "L",
        },
        { timeoutMs: 15_000 },
      );
      const upsertMs = performance.now() - started;
      // Sampled through the rest of the flood, or five more seconds of it.
      await Promise.race([floodDone, sleep(5_000)]);
      console.info(
        `flood of 5000 preface+SETTINGS connections (${floodReport.trim().split("\n").at(-1)}): upsert, sent after 2000 had connected, answered in ${Math.round(upsertMs)} ms; server descriptors ${baseline} at start, at most ${maxDescriptors}`,
      );
      expect(answer.result).toBe(UpsertResult.CREATED);
      expect(upsertMs).toBeLessThan(15_000);
      // Under the limit of 1024: the cap, the HTTP/2 sessions being closed (at most half the cap), what the
      // process held at start and the database connections it opened since.
      expect(maxDescriptors).toBeLessThanOrEqual(baseline + 512 + 256 + 10);
      expect(server.output()).toMatch(/"descriptorLimit":1024.*the file-descriptor limit is low/);
      expect(server.output()).toMatch(/connections closed by the limits/);
    } finally {
      sampling = false;
      await sampler;
      client.close();
      flood.kill("SIGKILL");
      expect(await server.stop("SIGTERM")).toBe(0);
    }
  }, 60_000);
});

import http2 from "node:http2";
import net from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type ServerProcess, spawnServer } from "../support/server-process.js";

// A stream the client resets before its handler runs has no session any more: reading one per request must not
// end the process. Run as its own process, so that an uncaught exception shows as an exit, not a test error.
let server: ServerProcess;
beforeAll(async () => {
  server = await spawnServer();
});
afterAll(async () => {
  await server.stop();
});

const port = () => Number(new URL(server.url).port);

function frame(type: number, flags: number, stream: number, payload = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK literal header field without indexing, with a literal name (both shorter than 127 bytes). */
const literal = (name: string, value: string) =>
  Buffer.concat([
    Buffer.from([0x00, name.length]),
    Buffer.from(name),
    Buffer.from([value.length]),
    Buffer.from(value),
  ]);

/** Preface, SETTINGS, HEADERS for stream 1 on `path` and RST_STREAM for stream 1, written in one go. */
function headersThenReset(path: string): Promise<void> {
  const headers = Buffer.concat([
    literal(":method", "POST"),
    literal(":scheme", "http"),
    literal(":path", path),
    literal(":authority", "localhost"),
    literal("content-type", "application/grpc"),
  ]);
  const cancel = Buffer.alloc(4);
  cancel.writeUInt32BE(http2.constants.NGHTTP2_CANCEL);
  const bytes = Buffer.concat([
    Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    frame(0x4, 0, 0),
    frame(0x1, 0x4, 1, headers),
    frame(0x3, 0, 1, cancel),
  ]);
  return new Promise((resolve) => {
    const socket = net.connect(port(), "127.0.0.1", () => socket.write(bytes));
    socket.resume();
    socket.on("error", () => undefined);
    setTimeout(() => {
      socket.destroy();
      resolve();
    }, 200);
  });
}

async function healthy(): Promise<void> {
  expect(server.child.exitCode).toBeNull();
  const response = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
  expect(response.status).toBe(200);
  expect(server.output()).not.toMatch(/TypeError|uncaught|unhandled/i);
}

it.each([
  "/grpc.health.v1.Health/Check",
  "/contacts.v1.ContactService/UpsertContact",
  "/contacts.v1.ContactService/ListContacts",
  "/grpc.health.v1.Health/Watch",
  "/no.such.Service/Method",
])("a stream reset right after its HEADERS on %s leaves the process serving", async (path) => {
  for (let i = 0; i < 5; i++) await headersThenReset(path);
  await healthy();
});

it("an http2 client that calls request() and close() in the same tick leaves the process serving", async () => {
  for (let i = 0; i < 20; i++) {
    const session = http2.connect(server.url);
    session.on("error", () => undefined);
    const request = session.request({
      ":method": "POST",
      ":path": "/grpc.health.v1.Health/Check",
      "content-type": "application/grpc",
    });
    request.on("error", () => undefined);
    request.close();
    await new Promise((resolve) => setTimeout(resolve, 20));
    session.destroy();
  }
  await healthy();
});

import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeSqlPool, storedContacts, uniqueFirm } from "../support/database.js";
import { type ServerProcess, spawnServer } from "../support/server-process.js";

// A refusal is answered before the request's body is read (a bracket bomb, a body over its limit). Over HTTP/1.1
// with `Connection: close`, the client is still sending when the answer goes out; closing the socket then with the
// client's bytes unread makes the kernel answer them with a reset, which throws away the answer if the client has
// not read it yet. A client busy for a moment (here: not reading for 300 ms) then got no answer at all.

const BATCH = "/contacts.v1.ContactService/BatchUpsertContacts";

let server: ServerProcess;
beforeAll(async () => {
  server = await spawnServer();
});
afterAll(async () => {
  await server.stop();
  await closeSqlPool();
});

/** Sends the whole request without reading, then reads after `readAfterMs`: what arrived, and how it ended. */
function postThenReadLate(body: Buffer, readAfterMs: number) {
  const { hostname, port } = new URL(server.url);
  return new Promise<{ received: string; ending: string }>((resolve) => {
    const socket = net.connect(Number(port), hostname);
    socket.pause();
    socket.write(
      `POST ${BATCH} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
    );
    socket.write(body, () => undefined);
    const chunks: Buffer[] = [];
    let ending = "end";
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      ending = error.code ?? error.message;
    });
    socket.on("close", () => resolve({ received: Buffer.concat(chunks).toString("latin1"), ending }));
    setTimeout(() => socket.resume(), readAfterMs);
  });
}

describe("an HTTP/1.1 refusal answered before the body is read", () => {
  it("reaches a client that reads it only after sending its whole 8 MB body", async () => {
    const firm = uniqueFirm("late");
    const bomb = Buffer.from(
      `{"firmId":"${firm}","requests":${"[".repeat(4_000_000)}${"]".repeat(4_000_000)}}`,
    );
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push(await postThenReadLate(bomb, 300));
    for (const { received } of outcomes) {
      expect(received.slice(0, 12)).toBe("HTTP/1.1 400");
      expect(received).toContain("nested deeper than 3 levels");
    }
    expect(await storedContacts(firm)).toEqual([]);
  });
});

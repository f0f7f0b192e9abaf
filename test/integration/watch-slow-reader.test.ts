import { readFileSync } from "node:fs";
import http2 from "node:http2";
import { setTimeout as sleep } from "node:timers/promises";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ContactService,
  WatchContactChangesRequestSchema,
  WatchContactChangesResponseSchema,
} from "../../gen/contacts/v1/contact_service_pb.js";
import { ErrorInfoSchema } from "../../gen-deps/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen-deps/google/rpc/status_pb.js";
import { grpcJsBatchClient } from "../support/batch-clients.js";
import { grpcJsClient } from "../support/clients.js";
import { closeSqlPool, uniqueFirm } from "../support/database.js";
import { type ServerProcess, spawnServer } from "../support/server-process.js";
import { grpcJsWatch } from "../support/watch.js";

// A watcher that stops reading, through a real HTTP/2 client: a raw node:http2 stream that never reads, with a
// 1 KiB flow-control window, so the server can send it almost nothing. Changes keep arriving; the server holds at
// most FEED_MAX_BACKLOG of them for it, ends its stream with RESOURCE_EXHAUSTED and a resume token once it reads
// again, and resuming from that token loses nothing. Another watcher of the firm reads every change meanwhile.
// The server runs as its own process so that its memory can be read from /proc.

const BACKLOG = 300;
const BATCHES = 40;
const ITEMS = 50;
const NOTE = "n".repeat(4_000);
/** Changes written: far past the backlog limit, about 7 MiB of notes. */
const WRITTEN = BATCHES * ITEMS;

let server: ServerProcess;
beforeAll(async () => {
  server = await spawnServer({
    FEED_MAX_BACKLOG: String(BACKLOG),
    FEED_HEARTBEAT_MS: "500",
  });
}, 60_000);
afterAll(async () => {
  await server?.stop();
  await closeSqlPool();
});

/** The server process's resident memory, in bytes (Linux). */
function rss(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb) * 1_024;
}

/** Splits a gRPC body into its messages (5-byte prefix each). */
function grpcMessages(body: Buffer): Buffer[] {
  const messages: Buffer[] = [];
  for (let at = 0; at + 5 <= body.length; ) {
    const length = body.readUInt32BE(at + 1);
    messages.push(body.subarray(at + 5, at + 5 + length));
    at += 5 + length;
  }
  return messages;
}

/** A gRPC WatchContactChanges over a bare HTTP/2 stream that is not read until `read()` is called. */
function stalledWatch(url: string, firmId: string, resumeToken = "") {
  const session = http2.connect(url, { settings: { initialWindowSize: 1_024 } });
  const stream = session.request({
    ":method": "POST",
    ":path": `/${ContactService.typeName}/${ContactService.method.watchContactChanges.name}`,
    "content-type": "application/grpc",
    te: "trailers",
  });
  stream.pause();
  const request = toBinary(
    WatchContactChangesRequestSchema,
    create(WatchContactChangesRequestSchema, { firmId, resumeToken }),
  );
  const frame = Buffer.alloc(5 + request.length);
  frame.writeUInt32BE(request.length, 1);
  Buffer.from(request).copy(frame, 5);
  stream.end(frame);
  const headers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once("response", resolve));
  return {
    headers,
    /** Reads everything: the messages and the trailers. */
    async read() {
      const chunks: Buffer[] = [];
      const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once("trailers", resolve));
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.resume();
      await new Promise((resolve) => stream.once("end", resolve));
      const messages = grpcMessages(Buffer.concat(chunks)).map((m) =>
        fromBinary(WatchContactChangesResponseSchema, m),
      );
      return { messages, trailers: await trailers };
    },
    close: () => session.close(),
  };
}

describe("a watcher that stops reading (raw HTTP/2, 1 KiB window) while changes arrive", () => {
  it("is cut off past FEED_MAX_BACKLOG with RESOURCE_EXHAUSTED and a token; the server's memory stays bounded; another watcher gets every change; resuming loses nothing", async () => {
    const firmId = uniqueFirm("slow");
    const writer = grpcJsBatchClient(server.url);
    const reader = grpcJsClient(server.url);
    const fast = grpcJsWatch(reader.raw, { firmId });
    const slow = stalledWatch(server.url, firmId);
    try {
      await fast.until((m) => m.length > 0, 10_000);
      await slow.headers;
      await sleep(1_000); // a heartbeat or two fill the slow stream's window
      const before = rss(server.child.pid as number);
      let peak = before;
      for (let b = 0; b < BATCHES; b++) {
        const requests = Array.from({ length: ITEMS }, (_, i) => ({
          email: `s${b}-${i}@example.com`,
          firstName: "S",
          lastName: "R",
          note: NOTE,
        }));
        await writer.batch({ firmId, requests });
        peak = Math.max(peak, rss(server.child.pid as number));
      }
      await fast.until((m) => m.flatMap((x) => x.changes).length >= WRITTEN, 30_000);
      peak = Math.max(peak, rss(server.child.pid as number));
      expect(fast.changes()).toHaveLength(WRITTEN);

      const { messages, trailers } = await slow.read();
      const received = messages.flatMap((m) => m.changes).length;
      console.info(
        `slow reader: received ${received} of ${WRITTEN} changes before its stream ended (${trailers["grpc-status"]}); server RSS ${Math.round(before / 2 ** 20)} MiB before the writes, at most ${Math.round(peak / 2 ** 20)} MiB during them`,
      );
      expect(trailers["grpc-status"]).toBe("8"); // RESOURCE_EXHAUSTED
      expect(decodeURIComponent(String(trailers["grpc-message"]))).toMatch(/FEED_MAX_BACKLOG/);
      expect(received).toBeLessThan(WRITTEN);
      const token = messages.at(-1)?.resumeToken ?? "";
      expect(token).not.toBe("");
      // The error repeats the token to resume from, and names the limit.
      const status = fromBinary(
        StatusSchema,
        Buffer.from(String(trailers["grpc-status-details-bin"]), "base64"),
      );
      const info = status.details.map((detail) => anyUnpack(detail, ErrorInfoSchema)).find((d) => d);
      expect(info).toMatchObject({
        reason: "FEED_BACKLOG_EXCEEDED",
        metadata: { resumeToken: token, limit: String(BACKLOG) },
      });
      // Resuming after the last message received delivers exactly the rest.
      const resumed = grpcJsWatch(reader.raw, { firmId, resumeToken: token });
      await resumed.until((m) => m.flatMap((x) => x.changes).length >= WRITTEN - received, 30_000);
      await sleep(300);
      const all = [...messages.flatMap((m) => m.changes), ...resumed.changes()].map((c) => c.contactId);
      expect(all).toEqual(fast.changes().map((c) => c.contactId));
      resumed.cancel();
      // Bounded: the cut-off above is what proves the stalled stream's backlog is dropped. RSS also holds the
      // garbage of the 2,000 writes, which Node 24 collects later than Node 20 (a rise of 88 MiB seen there, 45 on
      // Node 20), so this only catches a gross leak.
      expect(peak - before).toBeLessThan(128 * 2 ** 20);
    } finally {
      fast.cancel();
      slow.close();
      writer.close();
      reader.close();
    }
  }, 120_000);
});

import { setTimeout as sleep } from "node:timers/promises";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.js";
import { grpcJsClient } from "../support/clients.js";
import { uniqueFirm } from "../support/database.js";
import { NGINX_MISSING, type RunningNginx, startNginx } from "../support/nginx.js";
import { connectWatch, grpcJsWatch, type TestWatch, type WatchInit } from "../support/watch.js";

// WatchContactChanges through the shipped nginx configuration (deploy/nginx.conf.template): gRPC over h2c on its
// gRPC port, Connect and gRPC-Web server streaming over HTTP/1.1 on its HTTP port. nginx's read timeouts are
// shortened here from the template's hour to READ_TIMEOUT, so that a stream can outlive them several times over
// in seconds: what keeps it open is the feed's heartbeats (FEED_HEARTBEAT_MS, a fraction of the read timeout, as
// the template's hour is of the 15 s default), and a control without them is cut by nginx.
if (NGINX_MISSING) console.warn(`skipped nginx-watch.test.ts: ${NGINX_MISSING}`);

const READ_TIMEOUT_MS = 2_000;
const HEARTBEAT_MS = 400;
/** How long each stream stays open before a change is written: three of nginx's read timeouts. */
const OPEN_MS = 3 * READ_TIMEOUT_MS;
const SHORT_READS = { grpc_read_timeout: `${READ_TIMEOUT_MS}ms`, proxy_read_timeout: `${READ_TIMEOUT_MS}ms` };

let app: TestApp;
let nginx: RunningNginx;
beforeAll(async () => {
  if (NGINX_MISSING) return;
  app = await startTestApp({ FEED_HEARTBEAT_MS: String(HEARTBEAT_MS) });
  const instance = `127.0.0.1:${app.port}`;
  nginx = await startNginx([instance, instance, instance], SHORT_READS);
}, 60_000);
afterAll(async () => {
  await nginx?.stop();
  await app?.close();
});

type Opener = (baseUrls: { grpc: string; http: string }, request: WatchInit) => TestWatch & { close(): void };
const OPENERS: [string, Opener][] = [
  [
    "grpc-js, gRPC over h2c",
    ({ grpc }, request) => {
      const client = grpcJsClient(grpc);
      return { ...grpcJsWatch(client.raw, request), close: () => client.close() };
    },
  ],
  [
    "connect-node, gRPC over h2c",
    ({ grpc }, request) => ({
      ...connectWatch(createGrpcTransport({ baseUrl: grpc }), request),
      close: () => {},
    }),
  ],
  [
    "connect-node, Connect JSON over HTTP/1.1",
    ({ http }, request) => ({
      ...connectWatch(
        createConnectTransport({ baseUrl: http, httpVersion: "1.1", useBinaryFormat: false }),
        request,
      ),
      close: () => {},
    }),
  ],
  [
    "connect-node, gRPC-Web over HTTP/1.1",
    ({ http }, request) => ({
      ...connectWatch(createGrpcWebTransport({ baseUrl: http, httpVersion: "1.1" }), request),
      close: () => {},
    }),
  ],
];

/** The longest gap between two messages, or from the first to now. */
function longestGap(receivedAt: readonly number[]): number {
  let gap = 0;
  for (let i = 1; i < receivedAt.length; i++)
    gap = Math.max(gap, (receivedAt[i] as number) - (receivedAt[i - 1] as number));
  return Math.max(gap, performance.now() - (receivedAt.at(-1) ?? performance.now()));
}

describe.skipIf(NGINX_MISSING !== undefined)("WatchContactChanges behind deploy/nginx.conf.template", () => {
  it.each(OPENERS)(
    "%s: a stream outlives nginx's read timeout thrice, kept open by heartbeats, and changes arrive through it",
    async (_, open) => {
      const firmId = uniqueFirm("ngxw");
      const watch = open({ grpc: nginx.grpcUrl, http: nginx.httpUrl }, { firmId });
      const writer = grpcJsClient(nginx.grpcUrl);
      try {
        await watch.until((m) => m.length > 0, 10_000);
        const opened = performance.now();
        await sleep(OPEN_MS);
        const early = await Promise.race([watch.ended, sleep(0, "open")]);
        expect(early, await nginx.errorLog()).toBe("open");
        // Heartbeats arrived one by one, unbuffered: no gap near nginx's read timeout.
        expect(longestGap(watch.receivedAt)).toBeLessThan(READ_TIMEOUT_MS / 2);
        expect(watch.messages.length).toBeGreaterThanOrEqual(Math.floor(OPEN_MS / HEARTBEAT_MS / 2));

        const before = watch.messages.length;
        const written = performance.now();
        const { contact } = await writer.upsert({
          firmId,
          email: "through@example.com",
          firstName: "Th",
          lastName: "Rough",
        });
        await watch.until((m) => m.slice(before).some((message) => message.changes.length > 0), 10_000);
        const arrived = watch.receivedAt[watch.messages.findIndex((m) => m.changes.length > 0)] as number;
        expect(watch.changes().map((change) => change.contactId)).toEqual([contact?.id]);
        console.info(
          `${_}: open ${Math.round(performance.now() - opened)} ms through nginx (read timeout ${READ_TIMEOUT_MS} ms), ${watch.messages.length} messages, change received ${Math.round(arrived - written)} ms after the write was sent`,
        );
        watch.cancel();
        expect(await watch.ended).toBeUndefined();
      } finally {
        watch.close();
        writer.close();
      }
    },
    60_000,
  );

  describe("without heartbeats within nginx's read timeout", () => {
    let quiet: TestApp;
    let quietNginx: RunningNginx;
    beforeAll(async () => {
      quiet = await startTestApp({ FEED_HEARTBEAT_MS: "60000" });
      const instance = `127.0.0.1:${quiet.port}`;
      quietNginx = await startNginx([instance, instance, instance], SHORT_READS);
    }, 60_000);
    afterAll(async () => {
      await quietNginx?.stop();
      await quiet?.close();
    });

    it.each(OPENERS)(
      "%s: nginx ends the stream after its read timeout (the control: heartbeats are what keep the streams above open)",
      async (_, open) => {
        const firmId = uniqueFirm("ngxq");
        const writer = grpcJsClient(quiet.url);
        await writer.upsert({ firmId, email: "quiet@example.com", firstName: "Qu", lastName: "Iet" });
        writer.close();
        // From the start of time: the backlog is the stream's first message, and then it is quiet.
        const watch = open(
          { grpc: quietNginx.grpcUrl, http: quietNginx.httpUrl },
          { firmId, startTime: timestampFromMs(0) },
        );
        try {
          await watch.until((m) => m.length > 0, 10_000);
          const opened = performance.now();
          const end = await Promise.race([watch.ended, sleep(OPEN_MS, "open" as const)]);
          expect(end).not.toBe("open");
          expect(performance.now() - opened).toBeGreaterThan(READ_TIMEOUT_MS * 0.9);
          expect(end).not.toBeUndefined();
        } finally {
          watch.cancel();
          watch.close();
        }
      },
      30_000,
    );
  });
});

import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { BATCH_READ_MAX_BYTES } from "../../src/rpc/batch-request-limit.js";
import { NGINX_TEMPLATE } from "../support/nginx.js";

// The shipped nginx configuration must let through everything an instance accepts, and outlast its timeouts:
// these are the service's defaults, so the two cannot drift apart.
const template = readFileSync(NGINX_TEMPLATE, "utf8");
const defaults = loadConfig({});
/** gRPC and gRPC-Web put a 5-byte header before each message; a little more covers trailers and padding. */
const FRAMING_BYTES = 1_024;

/** Every value of a directive in the template, in order. */
function values(directive: string): string[] {
  return [...template.matchAll(new RegExp(`^\\s*${directive}\\s+([^;]+);`, "gm"))].map((m) => m[1] ?? "");
}

function bytes(size: string): number {
  const match = /^(\d+)([kmg]?)$/i.exec(size);
  if (!match) throw new Error(`not an nginx size: ${size}`);
  const unit = { "": 1, k: 1_024, m: 1_024 ** 2, g: 1_024 ** 3 }[(match[2] ?? "").toLowerCase()] ?? 1;
  return Number(match[1]) * unit;
}

function milliseconds(time: string): number {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(time);
  if (!match) throw new Error(`not an nginx time: ${time}`);
  const unit: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
  return Number(match[1]) * (unit[match[2] ?? "s"] ?? 1_000);
}

it("both server blocks take a body as large as MAX_REQUEST_BYTES allows, and the largest batch", () => {
  const sizes = values("client_max_body_size").map(bytes);
  // One per server block: a block without it falls back to nginx's 1 MiB, gRPC ones included.
  expect(sizes).toHaveLength((template.match(/^\s*server\s*\{\s*$/gm) ?? []).length);
  for (const size of sizes) {
    expect(size).toBeGreaterThanOrEqual(defaults.maxRequestBytes + FRAMING_BYTES);
    expect(size).toBeGreaterThanOrEqual(BATCH_READ_MAX_BYTES + FRAMING_BYTES);
  }
});

it("waits for an answer longer than any call may take, so the service's own DEADLINE_EXCEEDED arrives", () => {
  const reads = [...values("grpc_read_timeout"), ...values("proxy_read_timeout")].map(milliseconds);
  expect(reads).toHaveLength(2);
  for (const read of reads) expect(read).toBeGreaterThan(defaults.maxTimeoutMs);
});

it("closes a pooled gRPC connection before the instance's idle GOAWAY would", () => {
  const [grpcPool] = values("keepalive_timeout").map(milliseconds);
  expect(grpcPool).toBeLessThan(defaults.idleTimeoutMs);
});

it("outlasts several feed heartbeats (FEED_HEARTBEAT_MS), so a watch stream lives as long as its client wants", () => {
  const reads = [...values("grpc_read_timeout"), ...values("proxy_read_timeout")].map(milliseconds);
  for (const read of reads) expect(read).toBeGreaterThanOrEqual(4 * defaults.feedHeartbeatMs);
});

it("does not buffer responses on the HTTP/1.1 port: Connect and gRPC-Web streams reach the client as written", () => {
  expect(values("proxy_buffering")).toEqual(["off"]);
  // grpc_pass never buffers a response; proxy_pass would, unless told not to.
  expect(values("proxy_pass")).toHaveLength(1);
});

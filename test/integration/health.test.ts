import http2 from "node:http2";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import {
  Code,
  ConnectError,
  createClient,
  createContextValues,
  createHandlerContext,
  type Transport,
} from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Health,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus as Status,
} from "../../gen-deps/health/v1/health_pb.js";
import { connectionKey, healthHandlers } from "../../src/rpc/health.js";
import { createReadiness } from "../../src/rpc/readiness.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { TEST_DATABASE_URL } from "../support/database.js";

const h2 = (app: TestApp) => createClient(Health, createGrpcTransport({ baseUrl: app.url }));

/** A Watch stream read one message at a time, each read failing after `ms` instead of hanging. */
function watch(transport: Transport, service: string) {
  const abort = new AbortController();
  const stream = createClient(Health, transport)
    .watch({ service }, { signal: abort.signal })
    [Symbol.asyncIterator]();
  return {
    async next(ms = 5_000): Promise<IteratorResult<HealthCheckResponse>> {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no message within ${ms} ms`)), ms);
      });
      try {
        return await Promise.race([stream.next(), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    /** Reads until `status` arrives, failing after `ms`. */
    async until(status: Status, ms = 10_000): Promise<void> {
      const deadline = Date.now() + ms;
      for (;;) {
        const { value, done } = await this.next(Math.max(1, deadline - Date.now()));
        if (done) throw new Error(`stream ended before ${Status[status]}`);
        if (value.status === status) return;
      }
    },
    cancel: () => abort.abort(),
  };
}

async function get(url: string, init?: RequestInit) {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(5_000) });
  return { status: response.status, body: await response.text(), headers: response.headers };
}

/** One request over a fresh h2c connection (prior knowledge), as an HTTP/2 load balancer would probe. */
async function h2Get(base: string, path: string): Promise<{ status: number; body: string }> {
  const session = http2.connect(base);
  try {
    return await new Promise((resolve, reject) => {
      const request = session.request({ ":path": path, ":method": "GET" });
      request.setTimeout(5_000, () => request.close(http2.constants.NGHTTP2_CANCEL));
      let status = 0;
      let body = "";
      request.on("response", (headers) => {
        status = Number(headers[":status"]);
      });
      request.setEncoding("utf8");
      request.on("data", (chunk: string) => {
        body += chunk;
      });
      request.on("end", () => resolve({ status, body }));
      request.on("error", reject);
      request.end();
    });
  } finally {
    session.close();
  }
}

/** A TCP relay to the test database that a test can cut (the database "goes away") and restore. */
async function startDatabaseRelay() {
  const target = new URL(TEST_DATABASE_URL);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 3306), target.hostname);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      socket.on("error", drop);
      socket.once("close", drop);
    }
    client.pipe(upstream).pipe(client);
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  await listen(0);
  const { port } = server.address() as net.AddressInfo;
  const url = new URL(TEST_DATABASE_URL);
  url.host = `127.0.0.1:${port}`;
  return {
    url: url.toString(),
    /** Refuses new connections and drops the open ones. */
    async cut() {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    restore: () => listen(port),
  };
}

describe("grpc.health.v1.Health against a live database", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app.close();
  });

  it("Check answers SERVING for the server and for ContactService, NOT_FOUND for anything else", async () => {
    const client = h2(app);
    expect((await client.check({ service: "" })).status).toBe(Status.SERVING);
    expect((await client.check({ service: "contacts.v1.ContactService" })).status).toBe(Status.SERVING);
    const error = await client.check({ service: "contacts.v1.Nope" }).catch((e) => ConnectError.from(e));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.NotFound);
  });

  it("List names both services", async () => {
    const { statuses } = await h2(app).list({});
    expect(Object.keys(statuses).sort()).toEqual(["", "contacts.v1.ContactService"]);
    expect(statuses[""]?.status).toBe(Status.SERVING);
  });

  it("Watch streams SERVING over h2c (gRPC) and over HTTP/1.1 (Connect)", async () => {
    const transports = [
      createGrpcTransport({ baseUrl: app.url }),
      createConnectTransport({ baseUrl: app.url, httpVersion: "1.1" }),
    ];
    for (const transport of transports) {
      const stream = watch(transport, "contacts.v1.ContactService");
      expect((await stream.next()).value?.status).toBe(Status.SERVING);
      stream.cancel();
    }
  });

  it("Watch of an unknown service answers SERVICE_UNKNOWN and keeps the stream open", async () => {
    const stream = watch(createGrpcTransport({ baseUrl: app.url }), "contacts.v1.Nope");
    expect((await stream.next()).value?.status).toBe(Status.SERVICE_UNKNOWN);
    await expect(stream.next(300)).rejects.toThrow("no message within 300 ms");
    stream.cancel();
  });

  it("/healthz and /readyz answer 200 over HTTP/1.1 and h2c; they take GET and HEAD only", async () => {
    expect(await get(`${app.url}/healthz`)).toMatchObject({ status: 200, body: "ok\n" });
    expect(await get(`${app.url}/readyz?verbose`)).toMatchObject({ status: 200, body: "ready\n" });
    expect(await h2Get(app.url, "/healthz")).toEqual({ status: 200, body: "ok\n" });
    expect(await h2Get(app.url, "/readyz")).toEqual({ status: 200, body: "ready\n" });
    expect(await get(`${app.url}/readyz`, { method: "HEAD" })).toMatchObject({ status: 200, body: "" });
    const post = await get(`${app.url}/readyz`, { method: "POST" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
    expect((await get(`${app.url}/readyz`)).headers.get("cache-control")).toBe("no-store");
  });
});

describe("when the database stops answering", () => {
  it("health turns NOT_SERVING and /readyz 503 while /healthz stays 200, and both recover", async () => {
    const relay = await startDatabaseRelay();
    const app = await startTestApp({ DATABASE_URL: relay.url, DB_CONNECT_TIMEOUT_MS: "1000" });
    const stream = watch(createGrpcTransport({ baseUrl: app.url }), "");
    try {
      expect((await stream.next()).value?.status).toBe(Status.SERVING);
      expect((await get(`${app.url}/readyz`)).status).toBe(200);

      await relay.cut();
      await stream.until(Status.NOT_SERVING);
      expect((await h2(app).check({ service: "contacts.v1.ContactService" })).status).toBe(
        Status.NOT_SERVING,
      );
      expect(await get(`${app.url}/readyz`)).toMatchObject({ status: 503, body: "not ready\n" });
      expect(await h2Get(app.url, "/readyz")).toEqual({ status: 503, body: "not ready\n" });
      expect((await get(`${app.url}/healthz`)).status).toBe(200);

      await relay.restore();
      await stream.until(Status.SERVING);
      expect((await get(`${app.url}/readyz`)).status).toBe(200);
    } finally {
      stream.cancel();
      await relay.restore().catch(() => undefined);
      await app.close();
      await relay.cut();
    }
  });
});

describe("shutdown", () => {
  it("Watch turns NOT_SERVING the moment close() begins, then ends without holding up the drain", async () => {
    const app = await startTestApp();
    const stream = watch(createGrpcTransport({ baseUrl: app.url }), "");
    expect((await stream.next()).value?.status).toBe(Status.SERVING);
    const started = performance.now();
    const closing = app.close();
    expect((await stream.next()).value?.status).toBe(Status.NOT_SERVING);
    expect((await stream.next()).done).toBe(true);
    await closing;
    // The listener accepts for SHUTDOWN_ACCEPT_MS (1000) and the drain may last SHUTDOWN_GRACE_MS (2000 in
    // tests): an open Watch that held the drain would use all of it.
    expect(performance.now() - started).toBeLessThan(1_000 + 1_900);
  });
});

describe("readiness", () => {
  it("is false when the probe does not answer within the timeout", async () => {
    const readiness = createReadiness(() => new Promise(() => undefined), { timeoutMs: 50 });
    const started = performance.now();
    expect(await readiness.check()).toBe(false);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it("shares one probe between concurrent checks and caches its answer briefly", async () => {
    let probes = 0;
    const readiness = createReadiness(
      async () => {
        probes++;
        await sleep(20);
      },
      { cacheMs: 200 },
    );
    expect(await Promise.all([readiness.check(), readiness.check(), readiness.check()])).toEqual([
      true,
      true,
      true,
    ]);
    expect(await readiness.check()).toBe(true);
    expect(probes).toBe(1);
    await sleep(250);
    await readiness.check();
    expect(probes).toBe(2);
  });

  it("is false from the moment shutdown begins, even while a probe is in flight", async () => {
    let probes = 0;
    const readiness = createReadiness(async () => {
      probes++;
      await sleep(50);
    });
    const inFlight = readiness.check();
    readiness.beginShutdown();
    expect(readiness.shutdownSignal.aborted).toBe(true);
    expect(await inFlight).toBe(false);
    expect(await readiness.check()).toBe(false);
    expect(probes).toBe(1);
  });

  it("reports changes only", async () => {
    let up = true;
    const changes: boolean[] = [];
    const readiness = createReadiness(async () => up || Promise.reject(new Error("down")), {
      cacheMs: 0,
      onChange: (ready) => changes.push(ready),
    });
    for (const state of [true, true, false, false, true]) {
      up = state;
      await readiness.check();
    }
    expect(changes).toEqual([true, false, true]);
  });
});

describe("streams are bounded", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ REQUEST_READ_TIMEOUT_MS: "500", IDLE_TIMEOUT_MS: "1000" });
  });
  afterAll(async () => {
    await app.close();
  });

  /** The SETTINGS_MAX_CONCURRENT_STREAMS a server advertises to a new h2c connection. */
  async function advertisedStreams(url: string): Promise<number | undefined> {
    const session = http2.connect(url);
    session.on("error", () => undefined);
    try {
      const settings = await new Promise<http2.Settings>((resolve) =>
        session.once("remoteSettings", resolve),
      );
      return settings.maxConcurrentStreams;
    } finally {
      session.close();
    }
  }

  it("advertises MAX_CONCURRENT_STREAMS (default 100) as SETTINGS_MAX_CONCURRENT_STREAMS", async () => {
    expect(await advertisedStreams(app.url)).toBe(100);
    const seven = await startTestApp({ MAX_CONCURRENT_STREAMS: "7" });
    try {
      expect(await advertisedStreams(seven.url)).toBe(7);
    } finally {
      await seven.close();
    }
  });

  it("refuses more than 16 Watch streams on one connection with RESOURCE_EXHAUSTED, not on another", async () => {
    const transport = createGrpcTransport({ baseUrl: app.url });
    const streams = Array.from({ length: 16 }, () => watch(transport, ""));
    try {
      for (const stream of streams) expect((await stream.next()).value?.status).toBe(Status.SERVING);
      const extra = watch(transport, "");
      await expect(extra.next()).rejects.toMatchObject({ code: Code.ResourceExhausted });
      const elsewhere = watch(createGrpcTransport({ baseUrl: app.url }), "");
      expect((await elsewhere.next()).value?.status).toBe(Status.SERVING);
      elsewhere.cancel();
    } finally {
      for (const stream of streams) stream.cancel();
    }
  });

  it("ends a Watch at the idle GOAWAY of its HTTP/2 connection", async () => {
    const stream = watch(createGrpcTransport({ baseUrl: app.url }), "");
    expect((await stream.next()).value?.status).toBe(Status.SERVING);
    // IDLE_TIMEOUT_MS is 1000 here: GOAWAY, then the final one a second later at most.
    const started = performance.now();
    expect((await stream.next(6_000)).done).toBe(true);
    expect(performance.now() - started).toBeLessThan(4_000);
  });

  it("ends a Watch over HTTP/1.1 after REQUEST_READ_TIMEOUT_MS, as HTTP/1.1 has no GOAWAY", async () => {
    const stream = watch(createConnectTransport({ baseUrl: app.url, httpVersion: "1.1" }), "");
    const started = performance.now();
    expect((await stream.next()).value?.status).toBe(Status.SERVING);
    expect((await stream.next(5_000)).done).toBe(true);
    expect(performance.now() - started).toBeLessThan(500 + 2_000);
  });

  it("refuses a huge service name in Check without echoing it, and does not echo an unknown one", async () => {
    const client = h2(app);
    const huge = "s".repeat(1_048_576);
    const tooLarge = await client.check({ service: huge }).catch((e) => ConnectError.from(e));
    expect(tooLarge).toMatchObject({ code: Code.ResourceExhausted });
    expect((tooLarge as ConnectError).rawMessage.length).toBeLessThan(300);
    const unknown = await client.check({ service: "n".repeat(3_000) }).catch((e) => ConnectError.from(e));
    expect(unknown).toMatchObject({ code: Code.NotFound });
    expect((unknown as ConnectError).rawMessage).not.toContain("nnnn");
  });
});

describe("Watch streams in all", () => {
  it("are capped across connections: one past the cap is refused with RESOURCE_EXHAUSTED", async () => {
    const readiness = createReadiness(async () => undefined);
    const handlers = healthHandlers(readiness, { services: [], maxWatches: 3, watchIntervalMs: 10 });
    const abort = new AbortController();
    // Each call on a connection of its own, so only the cap in all applies.
    const context = () =>
      createHandlerContext({
        service: Health,
        method: Health.method.watch,
        protocolName: "test",
        requestMethod: "POST",
        url: "http://x/",
        requestSignal: abort.signal,
        contextValues: createContextValues().set(connectionKey, {
          signal: abort.signal,
          streamLifetimeMs: undefined,
          watches: 0,
        }),
      });
    const open = Array.from({ length: 3 }, () =>
      handlers.watch({ service: "" } as never, context())[Symbol.asyncIterator](),
    );
    for (const stream of open) expect((await stream.next()).value?.status).toBe(Status.SERVING);
    const extra = handlers.watch({ service: "" } as never, context())[Symbol.asyncIterator]();
    await expect(extra.next()).rejects.toMatchObject({ code: Code.ResourceExhausted });
    abort.abort();
    readiness.beginShutdown();
    for (const stream of open) await stream.return?.(undefined);
  });
});

describe("Watch streams per client address", () => {
  /** A Health/Watch over raw HTTP/2: "open" once it streams, or the grpc-status it was refused with. */
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
      // An empty HealthCheckRequest: one uncompressed gRPC message of length 0.
      stream.end(Buffer.alloc(5));
    });
  }

  it("64 connections x 16 Watch streams from one address hold MAX_WATCHES_PER_ADDRESS (100), and another address still watches", async () => {
    const app = await startTestApp();
    const sessions: http2.ClientHttp2Session[] = [];
    const connect = (localAddress: string) => {
      const session = http2.connect(app.url, {
        createConnection: () => net.connect({ port: app.port, host: "127.0.0.1", localAddress }),
      });
      session.on("error", () => undefined);
      sessions.push(session);
      return session;
    };
    try {
      const outcomes = await Promise.all(
        Array.from({ length: 64 }, () => connect("127.0.0.1")).flatMap((session) =>
          Array.from({ length: 16 }, () => rawWatch(session)),
        ),
      );
      const tally: Record<string, number> = {};
      for (const outcome of outcomes) tally[outcome] = (tally[outcome] ?? 0) + 1;
      console.info(`64 x 16 Watch streams from 127.0.0.1: ${JSON.stringify(tally)}`);
      // RESOURCE_EXHAUSTED is gRPC status 8.
      expect(tally).toEqual({ open: 100, "status 8": 924 });
      const other = connect("127.0.0.2");
      const theirs = await Promise.all(Array.from({ length: 16 }, () => rawWatch(other)));
      expect(theirs).toEqual(Array(16).fill("open"));
    } finally {
      for (const session of sessions) session.destroy();
      await app.close();
    }
  });
});

import { setMaxListeners } from "node:events";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { createRegistry } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues } from "@connectrpc/connect";
import { ContactService } from "../gen/contacts/v1/contact_service_pb.js";
import { file_google_rpc_error_details } from "../gen-deps/google/rpc/error_details_pb.js";
import { file_google_rpc_status } from "../gen-deps/google/rpc/status_pb.js";
import { Health } from "../gen-deps/health/v1/health_pb.js";
import type { Authenticate } from "./auth/api-keys.js";
import { acceptQueueLength } from "./http/accept-queue.js";
import { allowedHostsMiddleware } from "./http/allowed-hosts.js";
import { endSessionsOnIdleClientGoaway } from "./http/client-goaway.js";
import { type LimitEvent, limitConnections } from "./http/connection-limit.js";
import { goAway, trackConnections } from "./http/connections.js";
import { corsMiddleware } from "./http/cors.js";
import { lingerAfterEarlyAnswer } from "./http/early-answer.js";
import { metricsRoute } from "./http/metrics-route.js";
import type { HttpRequest, HttpResponse, Middleware } from "./http/middleware.js";
import { probeRoutes } from "./http/probes.js";
import { restMiddleware } from "./http/rest/rest-middleware.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import { authenticateHeaders, authInterceptor } from "./rpc/auth-interceptor.js";
import { createBodyBudget } from "./rpc/body-guard.js";
import { peerKey, receivedAtKey } from "./rpc/call-context.js";
import { type ContactUseCases, contactServiceHandlers } from "./rpc/contact-service.js";
import { capCallTime } from "./rpc/deadline-cap.js";
import { errorMappingInterceptor } from "./rpc/error-mapping.js";
import { type CallConnection, connectionKey, healthHandlers } from "./rpc/health.js";
import { loggingInterceptor, logRefusedCall } from "./rpc/logging-interceptor.js";
import { createNodeHandler } from "./rpc/node-handler.js";
import { createReadiness, type ReadinessProbe } from "./rpc/readiness.js";
import { REFLECTION_SERVICES, registerReflection } from "./rpc/reflection.js";
import { createReflectionIndex } from "./rpc/reflection-index.js";
import { requestLimit } from "./rpc/request-limits.js";
import { type WatchUseCase, watchChangesHandler } from "./rpc/watch-changes.js";
import { tracingInterceptor } from "./tracing/rpc-span.js";
import type { Tracing } from "./tracing/tracing.js";

export interface ServerOptions {
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** The ceiling of every RPC's request size limit (see request-limits.ts). */
  readonly maxRequestBytes: number;
  /** HTTP/2 streams one connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). */
  readonly maxConcurrentStreams: number;
  /** An HTTP/2 connection without traffic this long is sent GOAWAY; its Watch streams end. */
  readonly idleTimeoutMs: number;
  /** Longest a ContactService call may work; a longer client deadline is shortened to it. */
  readonly maxTimeoutMs: number;
  readonly shutdownGraceMs: number;
  /** Time a client gets to send a request's headers and body; slow or stalled senders are cut off after it. */
  readonly requestReadTimeoutMs: number;
  /** Browser origins allowed to call (CORS), like "https://app.example.com"; empty allows none. */
  readonly corsOrigins: readonly string[];
  /** Without `authenticate`, the Host names served (ALLOWED_HOSTS); other names are refused. */
  readonly allowedHosts: readonly string[];
  readonly useCases: ContactUseCases;
  /** RESPONSE_MAX_BYTES: a batch's answer trims its contacts to stay within it. */
  readonly responseMaxBytes?: number;
  /** WatchContactChanges (the change feed); UNIMPLEMENTED without it. Not under the call-time cap. */
  readonly watchChanges?: WatchUseCase;
  /** Resolves when the database answers; health and /readyz report SERVING only while it does. */
  readonly readinessProbe: ReadinessProbe;
  /** Checks bearer tokens on ContactService calls; undefined serves without authentication. */
  readonly authenticate: Authenticate | undefined;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Bytes of request bodies read and decoded at once (see body-guard.ts). */
  readonly decodeMaxBytes: number;
  /** Most connections open at once: at the cap the oldest idle one is closed, or else the new one. */
  readonly maxConnections: number;
  /** A connection that has not completed a request this long after it was accepted is closed. */
  readonly connectionFirstRequestMs: number;
  readonly maxWatchesPerConnection: number;
  readonly maxWatchesPerAddress: number;
  readonly maxWatches: number;
  /** At shutdown, how long the listener keeps accepting before it closes (health is NOT_SERVING meanwhile). */
  readonly shutdownAcceptMs: number;
  /** When set, every call is a span (see tracing/rpc-span.ts). */
  readonly tracing?: Tracing | undefined;
}

export interface RunningServer {
  /** http://host:port of the listener. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, lets calls in flight finish within the grace period, cancels the rest, closes sockets. */
  close(): Promise<void>;
}

/** After SHUTDOWN_ACCEPT_MS, the longest the listener stays open waiting for the kernel's accept queue to empty. */
const ACCEPT_QUEUE_WAIT_MS = 500;

// Every HTTP/2 connection starts with this preface; anything else on the port is HTTP/1.1.
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/**
 * Serves ContactService, gRPC health and server reflection over gRPC, gRPC-Web and Connect, and the plain HTTP
 * probes /healthz and /readyz, on one cleartext port, for HTTP/1.1 and h2c alike: each connection's first bytes
 * decide whether it goes to the HTTP/2 or the HTTP/1.1 server.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const shutdown = new AbortController();
  // Every call in flight listens on this signal; the default cap of 10 listeners would only warn.
  setMaxListeners(0, shutdown.signal);
  const { logger } = options;
  const readiness = createReadiness(options.readinessProbe, {
    onChange: (ready, error) =>
      ready
        ? logger.info("ready: the database answers")
        : logger.warn({ err: error }, "not ready: the database does not answer"),
  });
  // Reflection describes every service served here and the error details our errors carry, so that clients
  // (grpcurl, buf curl) can decode those details without a copy of the schema.
  const reflection = createReflectionIndex(
    [ContactService, Health, ...REFLECTION_SERVICES],
    [file_google_rpc_error_details, file_google_rpc_status],
  );
  const protectedServices = new Set([ContactService.typeName]);
  const handler = createNodeHandler({
    routes: (router) => {
      router.service(ContactService, {
        ...contactServiceHandlers(
          capCallTime(options.useCases, options.maxTimeoutMs),
          options.responseMaxBytes,
        ),
        ...(options.watchChanges && {
          watchContactChanges: watchChangesHandler(options.watchChanges, readiness.shutdownSignal),
        }),
      });
      router.service(
        Health,
        healthHandlers(readiness, {
          services: [ContactService.typeName],
          maxWatchesPerConnection: options.maxWatchesPerConnection,
          maxWatchesPerAddress: options.maxWatchesPerAddress,
          maxWatches: options.maxWatches,
        }),
      );
      registerReflection(router, reflection);
    },
    // Outermost first: tracing and logging see the final code (and log lines join the call's trace); error mapping also covers what authentication throws.
    interceptors: [
      ...(options.tracing ? [tracingInterceptor(options.tracing)] : []),
      loggingInterceptor(logger, options.metrics),
      errorMappingInterceptor(logger),
      ...(options.authenticate ? [authInterceptor(protectedServices)] : []),
    ],
    // Authentication needs only the headers: an unauthenticated call is refused before its body is read.
    admit: options.authenticate && authenticateHeaders(options.authenticate, protectedServices),
    onRefused: logRefusedCall(logger, options.metrics),
    contextValues: (request) =>
      createContextValues()
        .set(receivedAtKey, performance.now())
        .set(peerKey, `${request.socket.remoteAddress}:${request.socket.remotePort}`)
        .set(connectionKey, connectionOf(request)),
    readMaxBytes: options.maxRequestBytes,
    requestLimit: requestLimit(options.maxRequestBytes),
    maxTimeoutMs: options.maxTimeoutMs,
    bodyBudget: createBodyBudget(options.decodeMaxBytes),
    // A batch item's google.rpc.Status packs its details in Any, which JSON writes with the detail's fields.
    jsonOptions: { registry: createRegistry(file_google_rpc_error_details) },
    shutdownSignal: shutdown.signal,
  });

  const middlewares: Middleware[] = [
    allowedHostsMiddleware(options.allowedHosts, options.authenticate !== undefined),
    corsMiddleware(options.corsOrigins),
    probeRoutes(readiness),
    metricsRoute(options.metrics.registry),
    restMiddleware(handler, [ContactService]),
  ];
  const readTimeout = options.requestReadTimeoutMs;
  const h1 = http.createServer(
    // Node checks these two deadlines every connectionsCheckingInterval, so that bounds how late it notices.
    {
      headersTimeout: readTimeout,
      requestTimeout: readTimeout,
      connectionsCheckingInterval: Math.min(readTimeout, 1_000),
    },
    serve,
  );
  const h2 = http2.createServer({ settings: { maxConcurrentStreams: options.maxConcurrentStreams } }, serve);
  // Idle HTTP/2 sessions are closed (GOAWAY, so a client simply reconnects), so they cannot pile up; the
  // Watch streams they hold end with them.
  h2.setTimeout(options.idleTimeoutMs);
  h2.on("timeout", (session: http2.ServerHttp2Session) => {
    connectionStates.get(session)?.goAway.abort();
    goAway(session);
    // After a protocol error Node's HTTP/2 sends GOAWAY and stops reading the socket, without telling us: the
    // client's close goes unseen and the session's streams never end, so close() would wait for ever. Calls on a
    // session idle this long are over or stuck: one still open a shutdown grace period after its GOAWAY is dead.
    const dead = setTimeout(() => session.destroy(), options.shutdownGraceMs).unref();
    session.once("close", () => clearTimeout(dead));
  });
  endSessionsOnIdleClientGoaway(h2);
  const connections = trackConnections(h1, h2);
  const limiter = limitConnections(
    h1,
    h2,
    { maxConnections: options.maxConnections, firstRequestMs: options.connectionFirstRequestMs },
    warnAtMostEveryMinute(logger, options.maxConnections),
  );
  // Per connection (HTTP/2 session or HTTP/1.1 socket): what its streams need to know about it.
  const connectionStates = new WeakMap<object, CallConnection & { goAway: AbortController }>();
  function connectionOf(request: HttpRequest): CallConnection {
    const isH2 = request instanceof http2.Http2ServerRequest;
    // A stream the client has already reset (RST_STREAM, or request() and close() in one tick) has no session
    // any more, and an HTTP/1.1 request's socket may be gone: the call is over, so its connection is too.
    const owner: http2.ServerHttp2Session | net.Socket | undefined | null = isH2
      ? (request.stream.session as http2.ServerHttp2Session | undefined)
      : (request.socket as net.Socket | null);
    if (!owner || owner.destroyed) return { signal: AbortSignal.abort(), streamLifetimeMs: 0, watches: 0 };
    let state = connectionStates.get(owner);
    if (!state) {
      const goAway = new AbortController();
      // Each of the connection's streams may listen (a watch does, up to MAX_CONCURRENT_STREAMS of them).
      setMaxListeners(0, goAway.signal);
      (owner as net.Socket).once("close", () => goAway.abort());
      // HTTP/1.1 has no GOAWAY: a stream there lives at most as long as a request may take to arrive.
      state = {
        signal: goAway.signal,
        goAway,
        streamLifetimeMs: isH2 ? undefined : readTimeout,
        watches: 0,
        address: request.socket.remoteAddress,
      };
      connectionStates.set(owner, state);
    }
    return state;
  }
  function serve(req: HttpRequest, res: HttpResponse) {
    // A client that leaves mid-request makes Node 24 destroy the request with an "aborted" error (ECONNRESET),
    // emitted as an event: with no listener that is an uncaught exception, for a request refused unread too.
    // Whoever reads the body sees the abort anyway; here it only must not end the process.
    req.on("error", ignoreRequestError);
    connections.track(req, res);
    if (req instanceof http2.Http2ServerRequest) limitBodyTime(req, readTimeout);
    else lingerAfterEarlyAnswer(req, res as http.ServerResponse);
    for (const middleware of middlewares) if (middleware(req, res)) return;
    handler(req, res);
  }

  const listener = net.createServer((socket) => {
    if (!limiter.admit(socket)) return;
    connections.accept(socket);
    routeConnection(socket, h1, h2, readTimeout);
  });
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(options.port, options.host, () => {
      listener.off("error", reject);
      resolve();
    });
  });
  // The HTTP/1.1 server never listens itself (connections come from the listener above), but it starts the timer
  // that enforces headersTimeout and requestTimeout on its "listening" event.
  h1.emit("listening");
  const { port } = listener.address() as net.AddressInfo;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;

  let closing: Promise<void> | undefined;
  const close = async () => {
    // Not ready from the first moment: health watchers and /readyz tell load balancers to stop sending calls.
    readiness.beginShutdown();
    // Closing the listener resets the connections still in the kernel's accept queue: keep accepting and serving
    // as usual for a little while load balancers notice, so that only clients that ignore it meet the close.
    await new Promise((resolve) => setTimeout(resolve, options.shutdownAcceptMs));
    // A busy event loop leaves connections waiting in the kernel's accept queue for a while: close once it is
    // empty, from the check phase, right after a poll phase has accepted, waiting for that a little at most
    // (a client that ignores NOT_SERVING keeps it from ever being empty for long).
    const acceptDeadline = Date.now() + ACCEPT_QUEUE_WAIT_MS;
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      if (acceptQueueLength(port) === 0 || Date.now() >= acceptDeadline) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    listener.close();
    await connections.drain(Date.now() + options.shutdownGraceMs);
    limiter.stop();
    // Calls still running after the grace period are cancelled; clients see UNAVAILABLE and may retry.
    shutdown.abort(new ConnectError("the server is shutting down; retry the call", Code.Unavailable));
    // Destroying in the same tick would lose the error frames just sent to cancelled calls.
    await new Promise((resolve) => setTimeout(resolve, 100));
    connections.destroyAll();
    h1.close(); // stops the timeout timer started above
  };
  return { url: `http://${host}:${port}`, port, close: () => (closing ??= close()) };
}

/** Logs the connection limits' closings, counted, at most once a minute: a flood must not flood the log too. */
function warnAtMostEveryMinute(logger: Logger, maxConnections: number) {
  const counts: Record<LimitEvent, number> = { evicted: 0, refused: 0, "first-request-timeout": 0 };
  let loggedAt = Number.NEGATIVE_INFINITY;
  return (event: LimitEvent) => {
    counts[event]++;
    if (performance.now() - loggedAt < 60_000) return;
    loggedAt = performance.now();
    logger.warn(
      { ...counts, maxConnections },
      "connections closed by the limits (MAX_CONNECTIONS, CONNECTION_FIRST_REQUEST_MS) since the last such line",
    );
    for (const key of Object.keys(counts) as LimitEvent[]) counts[key] = 0;
  };
}

/** Hands a new connection to the HTTP/2 server if it opens with the HTTP/2 preface, else to HTTP/1.1. */
function routeConnection(
  socket: net.Socket,
  h1: http.Server,
  h2: http2.Http2Server,
  timeoutMs: number,
): void {
  let head = Buffer.alloc(0);
  // From the connection's start, not between bytes: a client trickling the preface is cut off like any other.
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  socket.once("close", () => clearTimeout(timer));
  socket.on("error", () => socket.destroy());
  const onData = (chunk: Buffer) => {
    head = Buffer.concat([head, chunk]);
    const n = Math.min(head.length, H2_PREFACE.length);
    const isH2 = head.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
    if (isH2 && head.length < H2_PREFACE.length) return; // a prefix of the preface so far: wait for more
    socket.off("data", onData);
    clearTimeout(timer);
    socket.pause();
    socket.unshift(head);
    (isH2 ? h2 : h1).emit("connection", socket);
    // The HTTP/1.1 parser consumes "data" events but does not restart a paused socket itself.
    if (!isH2) socket.resume();
  };
  socket.on("data", onData);
}

/**
 * HTTP/2 has no request timeout of its own: a stream whose body has not fully arrived `timeoutMs` after it began
 * is cancelled, however it trickles in, so a slow or stalled sender cannot hold a call open. The timer stops once
 * the body has arrived, so slow handlers are bounded by the call deadline instead.
 */
function limitBodyTime(request: http2.Http2ServerRequest, timeoutMs: number): void {
  const timer = setTimeout(() => request.stream.close(http2.constants.NGHTTP2_CANCEL), timeoutMs);
  const stop = () => clearTimeout(timer);
  request.once("end", stop);
  request.stream.once("close", stop);
}

/** A request's stream error (the client went away); whoever reads the body sees it too. */
function ignoreRequestError(): void {}

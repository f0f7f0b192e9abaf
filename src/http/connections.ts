import type http from "node:http";
import http2 from "node:http2";
import type net from "node:net";

import type { HttpRequest, HttpResponse } from "./middleware.js";

/**
 * While draining, a keep-alive socket is closed once it has been idle this long, counted from the later of its
 * last response and the start of the drain, with no byte received meanwhile. A client that picked the socket
 * just before the drain began has its request on the wire well within this time; after it, closing cannot cross
 * a request short of one sent at that very instant.
 */
const IDLE_LINGER_MS = 1_000;
const POLL_MS = 20;
// RFC 9113 section 6.8: a first GOAWAY with the largest stream id tells the client to stop opening streams
// without refusing those already on their way; the real last stream id follows one PING round trip later.
const MAX_STREAM_ID = 2 ** 31 - 1;
const FINAL_GOAWAY_AFTER_MS = 1_000;

/** Tracks the calls and connections of both servers so that shutdown can drain them without resetting any call. */
export interface ConnectionTracker {
  /** Counts a connection the listener accepted, until its first bytes have routed it (or it closes). */
  accept(socket: net.Socket): void;
  /** Counts a request until its response closes; while draining, tells HTTP/1.1 clients not to reuse the socket. */
  track(request: HttpRequest, response: HttpResponse): void;
  /**
   * Drains until no call is in flight or the deadline passes: HTTP/2 sessions get the two-step GOAWAY (no new
   * streams, none already sent refused), each HTTP/1.1 response carries `Connection: close`, and keep-alive
   * sockets and connections that have not said which protocol they speak are closed once they have sat idle
   * past the linger.
   */
  drain(deadline: number): Promise<void>;
  /** Destroys every connection left. */
  destroyAll(): void;
}

interface SocketState {
  busy: number;
  idleSince: number;
  /** socket.bytesRead when it last went idle: more means a request has begun arriving. */
  readAtIdle: number;
}

export function trackConnections(h1: http.Server, h2: http2.Http2Server): ConnectionTracker {
  let inFlight = 0;
  let drainStarted: number | undefined;
  // HTTP/1.1 responses not yet finished, to tell their clients at drain time not to reuse the socket.
  const responses = new Set<HttpResponse>();
  const sessions = new Set<http2.ServerHttp2Session>();
  // HTTP/1.1 sockets, and sockets not yet routed to either server, with their calls in flight.
  const sockets = new Map<net.Socket, SocketState>();
  const unrouted = new Map<net.Socket, SocketState>();
  const idle = (socket: net.Socket): SocketState => ({
    busy: 0,
    idleSince: Date.now(),
    readAtIdle: socket.bytesRead,
  });
  h2.on("connection", (socket: net.Socket) => unrouted.delete(socket));
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    if (drainStarted !== undefined) goAway(session);
  });
  h1.on("connection", (socket: net.Socket) => {
    unrouted.delete(socket);
    sockets.set(socket, idle(socket));
    socket.once("close", () => sockets.delete(socket));
  });

  const closeIdle = (map: Map<net.Socket, SocketState>, close: (socket: net.Socket) => void) => {
    const now = Date.now();
    for (const [socket, state] of map) {
      const quietSince = Math.max(state.idleSince, drainStarted ?? now);
      if (state.busy === 0 && socket.bytesRead === state.readAtIdle && now - quietSince >= IDLE_LINGER_MS) {
        map.delete(socket);
        close(socket);
      }
    }
  };

  return {
    accept(socket) {
      unrouted.set(socket, idle(socket));
      socket.once("close", () => unrouted.delete(socket));
    },
    track(request, response) {
      inFlight++;
      // Kept here: the request lets go of its socket when it closes.
      const socket = request.socket as net.Socket;
      const state = request.httpVersionMajor === 1 ? sockets.get(socket) : undefined;
      if (state) state.busy++;
      // Closing the socket after this response is the only race-free way to end an HTTP/1.1 keep-alive
      // connection: closing an idle one can cross a request the client is sending, which it sees as a reset.
      if (state) {
        if (drainStarted !== undefined) response.setHeader("connection", "close");
        else responses.add(response);
      }
      response.once("close", () => {
        responses.delete(response);
        inFlight--;
        if (state && --state.busy === 0) {
          state.idleSince = Date.now();
          state.readAtIdle = socket.bytesRead;
        }
      });
    },
    async drain(deadline) {
      drainStarted = Date.now();
      for (const response of responses) if (!response.headersSent) response.setHeader("connection", "close");
      for (const session of sessions) goAway(session);
      while (
        (inFlight > 0 || sockets.size > 0 || sessions.size > 0 || unrouted.size > 0) &&
        Date.now() < deadline
      ) {
        closeIdle(sockets, (socket) => socket.end());
        // Nothing has arrived on these since the drain began: no request is on its way.
        closeIdle(unrouted, (socket) => socket.destroy());
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    },
    destroyAll() {
      for (const socket of [...sockets.keys(), ...unrouted.keys()]) socket.destroy();
      for (const session of sessions) session.destroy();
    },
  };
}

/**
 * Ends an HTTP/2 session in two steps (RFC 9113 section 6.8): a GOAWAY with the largest stream id (no new
 * streams, please), then, FINAL_GOAWAY_AFTER_MS later (Go's net/http waits a second too; a PING answer proves
 * nothing with nghttp2 clients, which send it ahead of queued streams), the real GOAWAY, after which the session
 * closes when its streams finish. Streams the client sent before it saw the first GOAWAY are served. A client
 * built on nghttp2 (Node's, so connect-node) still refuses, locally and without sending them, the requests it had
 * queued but not yet sent when a GOAWAY arrives: connect-node reports those as INTERNAL (REFUSED_STREAM); they
 * were never processed and are safe to retry (grpc-js retries them by itself).
 */
export function goAway(session: http2.ServerHttp2Session): void {
  if (session.closed || session.destroyed) return;
  const finish = () => {
    if (!session.closed && !session.destroyed) session.close();
  };
  try {
    session.goaway(http2.constants.NGHTTP2_NO_ERROR, MAX_STREAM_ID);
    const timer = setTimeout(finish, FINAL_GOAWAY_AFTER_MS);
    session.once("close", () => clearTimeout(timer));
  } catch {
    finish();
  }
}

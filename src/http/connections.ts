import type http from "node:http";
import type http2 from "node:http2";
import type net from "node:net";

import type { HttpRequest, HttpResponse } from "./middleware.js";

/**
 * While draining, a keep-alive socket is closed once it has been idle this long, counted from the later of its
 * last response and the start of the drain, with no byte received meanwhile. A client that picked the socket
 * just before the drain began has its request on the wire well within this time; after it, closing cannot cross
 * a request short of one sent at that very instant. HTTP/2 sessions are served this long before their GOAWAY.
 */
const IDLE_LINGER_MS = 1_000;
const POLL_MS = 20;
/**
 * While draining, an HTTP/2 session idle this long is sent a PING. A proxy keeping the connection in its idle pool
 * (nginx's upstream keepalive) closes a pooled connection on any unexpected byte, so it retires the connection
 * itself, with no stream on its way; sent later than the last response, so that it does not arrive with it.
 */
const NUDGE_AFTER_IDLE_MS = 10;

/** Tracks the calls and connections of both servers so that shutdown can drain them without resetting any call. */
export interface ConnectionTracker {
  /** Counts a connection the listener accepted, until its first bytes have routed it (or it closes). */
  accept(socket: net.Socket): void;
  /** Counts a request until its response closes; while draining, tells HTTP/1.1 clients not to reuse the socket. */
  track(request: HttpRequest, response: HttpResponse): void;
  /**
   * Drains until no call is in flight or the deadline passes. Each HTTP/1.1 response carries `Connection: close`;
   * keep-alive sockets and connections that have not said which protocol they speak are closed once they have sat
   * idle past the linger. HTTP/2 sessions keep being served through the linger, and are sent a PING whenever they
   * are idle (a proxy pooling them closes them itself), then GOAWAY (see `goAway`).
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

interface SessionState {
  streams: number;
  idleSince: number;
  /** When the drain last sent it a PING; a new one only after it has been busy again. */
  nudgedAt: number;
  /** Serving it ends this long into the drain (or into its life, if it began during the drain). */
  startedAt: number;
  closing: boolean;
}

export function trackConnections(h1: http.Server, h2: http2.Http2Server): ConnectionTracker {
  let inFlight = 0;
  let drainStarted: number | undefined;
  // HTTP/1.1 responses not yet finished, to tell their clients at drain time not to reuse the socket.
  const responses = new Set<HttpResponse>();
  const sessions = new Map<http2.ServerHttp2Session, SessionState>();
  // HTTP/1.1 sockets, and sockets not yet routed to either server, with their calls in flight.
  const sockets = new Map<net.Socket, SocketState>();
  const unrouted = new Map<net.Socket, SocketState>();
  const idle = (socket: net.Socket): SocketState => ({
    busy: 0,
    idleSince: Date.now(),
    readAtIdle: socket.bytesRead,
  });
  h2.on("connection", (socket: net.Socket) => unrouted.delete(socket));
  h2.on("session", (session: http2.ServerHttp2Session) => {
    const state: SessionState = {
      streams: 0,
      idleSince: Date.now(),
      nudgedAt: 0,
      startedAt: Date.now(),
      closing: false,
    };
    sessions.set(session, state);
    session.once("close", () => sessions.delete(session));
    session.on("stream", (stream: http2.ServerHttp2Stream) => {
      state.streams++;
      stream.once("close", () => {
        if (--state.streams === 0) state.idleSince = Date.now();
      });
    });
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

  const retireSessions = (drainStart: number) => {
    const now = Date.now();
    for (const [session, state] of sessions) {
      if (state.closing) continue;
      if (now - Math.max(state.startedAt, drainStart) >= IDLE_LINGER_MS) {
        state.closing = true;
        goAway(session);
      } else if (
        state.streams === 0 &&
        now - state.idleSince >= NUDGE_AFTER_IDLE_MS &&
        state.nudgedAt <= state.idleSince
      ) {
        state.nudgedAt = now;
        nudge(session);
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
      const started = Date.now();
      drainStarted = started;
      for (const response of responses) if (!response.headersSent) response.setHeader("connection", "close");
      while (
        (inFlight > 0 || sockets.size > 0 || sessions.size > 0 || unrouted.size > 0) &&
        Date.now() < deadline
      ) {
        retireSessions(started);
        closeIdle(sockets, (socket) => socket.end());
        // Nothing has arrived on these since the drain began: no request is on its way.
        closeIdle(unrouted, (socket) => socket.destroy());
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    },
    destroyAll() {
      for (const socket of [...sockets.keys(), ...unrouted.keys()]) socket.destroy();
      for (const session of sessions.keys()) session.destroy();
    },
  };
}

/** A PING, which any HTTP/2 peer must answer and a pooling proxy takes as its cue to close an idle connection. */
function nudge(session: http2.ServerHttp2Session): void {
  if (session.closed || session.destroyed) return;
  try {
    session.ping(() => {});
  } catch {
    // closing already
  }
}

/**
 * Ends an HTTP/2 session: a GOAWAY with the last stream id the server has processed, after which the session
 * closes when its streams finish. Node offers no shutdown notice (nghttp2_submit_shutdown_notice): its
 * `session.goaway(code, 2^31-1)` makes nghttp2 ignore every stream that arrives afterwards while telling the
 * client they will be processed, so a "first GOAWAY with the largest stream id" would only delay the refusal.
 * A stream the client sent after the last processed one is refused by the GOAWAY itself, never processed:
 * grpc-js retries it by itself, connect-node reports it as INTERNAL (REFUSED_STREAM), and nginx answers its client
 * 502 (it never retries a gRPC request it has begun to send). Hence the drain first nudges and lingers.
 */
export function goAway(session: http2.ServerHttp2Session): void {
  if (session.closed || session.destroyed) return;
  try {
    session.close();
  } catch {
    session.destroy();
  }
}

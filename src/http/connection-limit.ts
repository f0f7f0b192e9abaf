import type http from "node:http";
import type http2 from "node:http2";
import type net from "node:net";
import { goAway } from "./connections.js";

export interface ConnectionLimits {
  /** Most connections open at once, HTTP/1.1, HTTP/2 and not yet routed alike. */
  readonly maxConnections: number;
  /** A connection that has not completed a request this long after it was accepted is closed. */
  readonly firstRequestMs: number;
}

/** Why a connection was closed (or refused) by the limits, for logs and metrics. */
export type LimitEvent = "evicted" | "refused" | "first-request-timeout";

/** Bounds the connections of both servers: how many are open, and how long one may stay without a request. */
export interface ConnectionLimiter {
  /**
   * Takes a connection the listener accepted. At the cap the oldest idle connection (no request in flight; one
   * that has not sent a request yet counts as idle) is closed to make room; with none idle the new connection
   * is closed at once and false returned, so it is never left hanging.
   */
  admit(socket: net.Socket): boolean;
  /** Connections open now. */
  readonly size: number;
  /** Stops the timers (at shutdown; the connections themselves are closed by the drain). */
  stop(): void;
}

/**
 * A connection accepted this recently from which nothing has been read yet is not closed to make room: in a
 * burst of arrivals the server accepts hundreds before it reads from any, and closing the oldest of those would
 * close a client's connection before its request could be read. The newcomer is refused instead.
 */
const UNREAD_GRACE_MS = 200;

interface Entry {
  inFlight: number;
  completed: boolean;
  acceptedAt: number;
  /** Closed by the limits, its descriptor not yet released. */
  closing: boolean;
  timer: NodeJS.Timeout | undefined;
  /** How to close it: HTTP/2 sessions get GOAWAY, anything else is simply closed (its descriptor at once). */
  close(): void;
  /** True once close() leaves the descriptor open for a moment (an HTTP/2 session's GOAWAY being written). */
  deferred: boolean;
}

export function limitConnections(
  h1: http.Server,
  h2: http2.Http2Server,
  limits: ConnectionLimits,
  onEvent: (event: LimitEvent) => void = () => {},
): ConnectionLimiter {
  // A Map iterates in insertion order: the oldest connection first.
  const open = new Map<net.Socket, Entry>();
  // HTTP/2 sessions closed by the limits hold their descriptor until their GOAWAY is written: a burst of
  // arrivals could otherwise evict (and hold) hundreds at once. Past this many, new connections are refused.
  const maxClosing = Math.max(16, Math.floor(limits.maxConnections / 2));
  let closing = 0;
  let stopped = false;
  const drop = (socket: net.Socket, entry: Entry) => {
    clearTimeout(entry.timer);
    open.delete(socket);
    entry.closing = true;
    if (entry.deferred) closing++;
    entry.close();
  };
  const finish = (entry: Entry) => {
    entry.inFlight--;
    entry.completed = true;
    clearTimeout(entry.timer);
    entry.timer = undefined;
  };

  // The HTTP/2 server emits "session" synchronously inside its "connection" handler, before later listeners.
  let routing: http2.ServerHttp2Session | undefined;
  h2.on("session", (session: http2.ServerHttp2Session) => {
    routing = session;
  });
  h2.on("connection", (socket: net.Socket) => {
    const session = routing;
    routing = undefined;
    const entry = open.get(socket);
    if (!entry || !session) return;
    // GOAWAY tells a client its request, if one is on its way, was not processed; the socket goes a moment
    // later (the frame must be written first) whether or not the client closes its side.
    entry.close = () => {
      goAway(session);
      setImmediate(() => socket.destroy());
    };
    entry.deferred = true;
    session.on("stream", (stream: http2.ServerHttp2Stream) => {
      entry.inFlight++;
      stream.once("close", () => finish(entry));
    });
  });
  h1.on("request", (request: http.IncomingMessage, response: http.ServerResponse) => {
    const entry = open.get(request.socket as net.Socket);
    if (!entry) return;
    entry.inFlight++;
    response.once("close", () => finish(entry));
  });

  const makeRoom = (): boolean => {
    const now = performance.now();
    for (const [socket, entry] of open) {
      if (entry.inFlight === 0 && (socket.bytesRead > 0 || now - entry.acceptedAt >= UNREAD_GRACE_MS)) {
        drop(socket, entry);
        onEvent("evicted");
        return true;
      }
    }
    return false;
  };

  return {
    admit(socket) {
      if (open.size >= limits.maxConnections && (closing >= maxClosing || !makeRoom())) {
        onEvent("refused");
        socket.destroy();
        return false;
      }
      const entry: Entry = {
        inFlight: 0,
        completed: false,
        acceptedAt: performance.now(),
        closing: false,
        timer: undefined,
        close: () => socket.destroy(),
        deferred: false,
      };
      if (!stopped) {
        // A call in flight at the deadline is left alone: when it ends, the connection has completed a request.
        entry.timer = setTimeout(() => {
          if (entry.completed || entry.inFlight > 0 || !open.has(socket)) return;
          drop(socket, entry);
          onEvent("first-request-timeout");
        }, limits.firstRequestMs);
      }
      open.set(socket, entry);
      socket.once("close", () => {
        clearTimeout(entry.timer);
        if (entry.closing && entry.deferred) closing--;
        else open.delete(socket);
      });
      return true;
    },
    get size() {
      return open.size;
    },
    stop() {
      stopped = true;
      for (const entry of open.values()) clearTimeout(entry.timer);
    },
  };
}

import type http from "node:http";
import type http2 from "node:http2";
import type net from "node:net";

import type { HttpRequest, HttpResponse } from "./middleware.js";

/** Keep-alive sockets idle this long while draining are closed; a client is unlikely to be reusing them. */
const IDLE_CLOSE_MS = 250;
const POLL_MS = 20;

/** Tracks the calls and connections of both servers so that shutdown can drain them without resetting any call. */
export interface ConnectionTracker {
  /** Counts a request until its response closes; while draining, tells HTTP/1.1 clients not to reuse the socket. */
  track(request: HttpRequest, response: HttpResponse): void;
  /**
   * Drains until no call is in flight or the deadline passes: HTTP/2 sessions get GOAWAY (no new streams), each
   * HTTP/1.1 response carries `Connection: close`, and keep-alive sockets are closed once they sit idle.
   */
  drain(deadline: number): Promise<void>;
  /** Destroys every connection left. */
  destroyAll(): void;
}

export function trackConnections(h1: http.Server, h2: http2.Http2Server): ConnectionTracker {
  let inFlight = 0;
  let draining = false;
  // HTTP/1.1 responses not yet finished, to tell their clients at drain time not to reuse the socket.
  const responses = new Set<HttpResponse>();
  const sessions = new Set<http2.ServerHttp2Session>();
  // HTTP/1.1 sockets with their calls in flight and when they last went idle.
  const sockets = new Map<net.Socket, { busy: number; idleSince: number }>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  h1.on("connection", (socket: net.Socket) => {
    sockets.set(socket, { busy: 0, idleSince: Date.now() });
    socket.once("close", () => sockets.delete(socket));
  });

  const closeIdleSockets = () => {
    const now = Date.now();
    for (const [socket, state] of sockets) {
      if (state.busy === 0 && now - state.idleSince >= IDLE_CLOSE_MS) socket.end();
    }
  };

  return {
    track(request, response) {
      inFlight++;
      const state = request.httpVersionMajor === 1 ? sockets.get(request.socket as net.Socket) : undefined;
      if (state) state.busy++;
      // Closing the socket after this response is the only race-free way to end an HTTP/1.1 keep-alive
      // connection: closing an idle one can cross a request the client is sending, which it sees as a reset.
      if (state) {
        if (draining) response.setHeader("connection", "close");
        else responses.add(response);
      }
      response.once("close", () => {
        responses.delete(response);
        inFlight--;
        if (state && --state.busy === 0) state.idleSince = Date.now();
      });
    },
    async drain(deadline) {
      draining = true;
      for (const response of responses) if (!response.headersSent) response.setHeader("connection", "close");
      // GOAWAY: streams in flight finish, new ones are refused (REFUSED_STREAM: not processed, safe to retry).
      for (const session of sessions) session.close();
      while ((inFlight > 0 || sockets.size > 0 || sessions.size > 0) && Date.now() < deadline) {
        closeIdleSockets();
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    },
    destroyAll() {
      for (const socket of sockets.keys()) socket.destroy();
      for (const session of sessions) session.destroy();
    },
  };
}

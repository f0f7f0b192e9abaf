import type http from "node:http";
import type net from "node:net";

/** How long, at most, a connection keeps reading a request's unread body after answering it early. */
export const EARLY_ANSWER_LINGER_MS = 2_000;

/**
 * An HTTP/1.1 refusal goes out before its body is read (a bracket bomb, a body over its limit). On a closing
 * connection Node then closes the socket with the client's body still arriving, and the kernel answers those bytes
 * with a reset, which discards the answer if the client has not read it yet: a client busy for a moment got no
 * answer at all. Instead the answer is followed by a FIN only, the rest of the body is read and dropped, and the
 * socket closes when the client closes it, or after `lingerMs` (what Apache and nginx call a lingering close).
 */
export function lingerAfterEarlyAnswer(
  request: http.IncomingMessage,
  response: http.ServerResponse,
  lingerMs = EARLY_ANSWER_LINGER_MS,
): void {
  // Taken now: by the time the answer is sent, Node may have detached the request from its socket (null).
  const socket: net.Socket | null = request.socket;
  if (!socket) return;
  response.once("finish", () => {
    // Node's own listener ran first: on a closing connection it has ended the socket and set it to be destroyed
    // once that end is flushed. A keep-alive connection instead reads the rest of the body as Node does.
    if (request.complete || !socket.writableEnded || socket.destroyed) return;
    socket.removeListener("finish", socket.destroy);
    // The abandoned body reader's 'readable' listener keeps the request paused (resume() does nothing while one
    // is attached), and Node's own drain only removes 'data' listeners: without it the body is never read.
    request.removeAllListeners("readable");
    request.resume();
    const timer = setTimeout(() => socket.destroy(), lingerMs).unref();
    socket.once("close", () => clearTimeout(timer));
  });
}

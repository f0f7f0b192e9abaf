import type http2 from "node:http2";

/**
 * Ends at once an HTTP/2 session whose client sends GOAWAY while it has no stream open. nghttp2 1.61 (bundled with
 * Node 20) aborts the whole process (assertion `iframe->state == NGHTTP2_IB_IGN_ALL` in nghttp2_session_mem_recv2,
 * fixed upstream by nghttp2 PR 2509) when such a GOAWAY is followed, in the same read, by a new stream's HEADERS
 * and a frame that is a connection error. A client with no call open that says it is leaving loses nothing; one
 * with calls open keeps them (Node's own close() lets them finish), and that case does not reach the assertion.
 */
export function endSessionsOnIdleClientGoaway(h2: http2.Http2Server): void {
  h2.on("session", (session: http2.ServerHttp2Session) => {
    let open = 0;
    session.on("stream", (stream: http2.ServerHttp2Stream) => {
      open++;
      stream.once("close", () => open--);
    });
    session.on("goaway", () => {
      if (open === 0) session.destroy();
    });
  });
}

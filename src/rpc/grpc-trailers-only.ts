import http2 from "node:http2";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import { universalResponseToNodeResponse } from "@connectrpc/connect-node";

type NodeResponse = Parameters<typeof universalResponseToNodeResponse>[1];

/**
 * Writes a response as connect-node's `universalResponseToNodeResponse` does, except that a gRPC call over HTTP/2
 * that ends without a message (an error) is answered Trailers-Only: one HEADERS frame, ending the stream, that
 * holds the status. connect-node sends headers first and the status in trailers after them, and a gRPC client
 * takes response headers as the server's commitment to the call (gRFC A6): grpc-js then never applies a retry
 * policy, whatever the status. grpc-go, grpc-java and grpc-core servers answer errors Trailers-Only.
 */
export async function writeResponse(
  universal: UniversalServerResponse,
  response: NodeResponse,
): Promise<void> {
  const body = universal.body;
  if (
    !(response instanceof http2.Http2ServerResponse) ||
    !/^application\/grpc(\+|;|$)/.test(universal.header?.get("content-type") ?? "") ||
    body === undefined ||
    body instanceof Uint8Array
  ) {
    return universalResponseToNodeResponse(universal, response);
  }
  const it = body[Symbol.asyncIterator]();
  const first = await it.next();
  if (!first.done) {
    const replay = (async function* () {
      yield first.value;
      yield* { [Symbol.asyncIterator]: () => it };
    })();
    return universalResponseToNodeResponse({ ...universal, body: replay }, response);
  }
  // The call is over: its trailers are final. Headers set on the response before the handler ran are kept.
  const headers: http2.OutgoingHttpHeaders = { ...response.getHeaders(), ":status": universal.status };
  for (const [name, value] of universal.header ?? []) headers[name] = value;
  for (const [name, value] of universal.trailer ?? []) headers[name] = value;
  const { stream } = response;
  if (stream.destroyed || stream.closed) return;
  await new Promise<void>((resolve) => {
    stream.once("close", () => resolve());
    stream.respond(headers, { endStream: true });
  });
}

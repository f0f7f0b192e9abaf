import { createConnectRouter } from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import {
  type ConnectNodeAdapterOptions,
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import { correctWireErrors } from "./wire-errors.js";

type NodeHandler = (
  request: Parameters<typeof universalRequestFromNodeRequest>[0],
  response: Parameters<typeof universalResponseToNodeResponse>[1],
) => void;

/**
 * connect-node's adapter, with two changes: each procedure's handler answers input it cannot decode as bad input
 * (see wire-errors.ts), and JSON bodies must be valid UTF-8 rather than having bad bytes silently replaced
 * with U+FFFD. Unknown paths go to `fallback` (404 without one).
 */
export function createNodeHandler(options: ConnectNodeAdapterOptions): NodeHandler {
  const router = createConnectRouter({
    acceptCompression: [compressionGzip, compressionBrotli],
    ...options,
    // createJsonSerialization reads `textDecoder`, which the router's option type does not list.
    jsonOptions: {
      ...options.jsonOptions,
      textDecoder: new TextDecoder("utf-8", { fatal: true }),
    } as ConnectNodeAdapterOptions["jsonOptions"],
  });
  options.routes(router);
  const paths = new Map<string, UniversalHandler>();
  for (const handler of router.handlers) paths.set(handler.requestPath, correctWireErrors(handler));
  return (request, response) => {
    const handler = paths.get(request.url?.split("?", 2)[0] ?? "");
    if (!handler) {
      if (options.fallback) {
        options.fallback(request, response);
      } else {
        response.writeHead(404);
        response.end();
      }
      return;
    }
    handler(universalRequestFromNodeRequest(request, response, undefined, options.contextValues?.(request)))
      .then((universal) => universalResponseToNodeResponse(universal, response))
      // A failed write to a client that went away, or a response that could not be produced: never leave the
      // client waiting.
      .catch(() => response.destroy());
  };
}

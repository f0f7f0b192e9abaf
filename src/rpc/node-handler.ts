import type { DescMethod } from "@bufbuild/protobuf";
import {
  type ConnectError,
  type ConnectRouter,
  createConnectRouter,
  createContextValues,
  createServiceImplSpec,
} from "@connectrpc/connect";
import type {
  UniversalHandler,
  UniversalServerRequest,
  UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import {
  type ConnectNodeAdapterOptions,
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  type universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import { type BodyBudget, bodyDecoded, guardBody, releaseBodyKey } from "./body-guard.js";
import { capTimeoutHeaders } from "./deadline-cap.js";
import { writeResponse } from "./grpc-trailers-only.js";
import { depthCheckingDecoder } from "./json-depth.js";
import { decodingInSlices, sliceDecoded } from "./sliced-decode.js";
import { correctWireErrors } from "./wire-errors.js";

// JSON bodies must be valid UTF-8, rather than having bad bytes silently replaced with U+FFFD.
const FATAL_UTF8 = new TextDecoder("utf-8", { fatal: true });

type NodeRequest = Parameters<typeof universalRequestFromNodeRequest>[0];
type NodeResponse = Parameters<typeof universalResponseToNodeResponse>[1];

/** The adapter's Node handler, and a way in for other HTTP shapes of the same procedures. */
export interface NodeHandler {
  (request: NodeRequest, response: NodeResponse): void;
  /** The procedure served at "/package.Service/Method", with its request size limit; undefined if none. */
  procedure(path: string): { readonly method: DescMethod; readonly limit: number } | undefined;
  /**
   * Runs the procedure at `path` on the universal request `rewrite` makes of `request` (with the call's context
   * values), through the same admission, deadline caps, wire-error corrections and interceptors as any call:
   * the REST transcoder turns its routes into Connect JSON calls this way.
   */
  call(
    path: string,
    request: NodeRequest,
    response: NodeResponse,
    rewrite: (universal: UniversalServerRequest) => UniversalServerRequest,
  ): Promise<UniversalServerResponse>;
}

export interface NodeHandlerOptions extends ConnectNodeAdapterOptions {
  /** The most bytes a request of `method` may have, before and after decompression. */
  readonly requestLimit: (method: DescMethod) => number;
  /** A client deadline longer than this is dropped, so the server's own cap (capCallTime) shortens it. */
  readonly maxTimeoutMs: number;
  /**
   * Decides from the request line and headers alone whether a call may go on; an error refuses it before any
   * byte of its body is read, decompressed or parsed.
   */
  readonly admit?: (method: DescMethod, request: UniversalServerRequest) => ConnectError | undefined;
  /**
   * Told about each call `admit` refused, before the refusal is sent (it never reaches the interceptors, which
   * log the others); may add metadata to the error.
   */
  readonly onRefused?: (method: DescMethod, error: ConnectError, request: UniversalServerRequest) => void;
  /**
   * The bytes of request bodies read and decoded at once (DECODE_MAX_BYTES); a call that does not fit is
   * refused with RESOURCE_EXHAUSTED (see body-guard.ts). Undefined: no such limit.
   */
  readonly bodyBudget?: BodyBudget;
}

/**
 * connect-node's adapter, with these changes: each procedure's handler answers input it cannot decode as bad
 * input (see wire-errors.ts); JSON bodies must be valid UTF-8 rather than having bad bytes silently replaced
 * with U+FFFD, may not nest deeper than their schema (checked by a byte scan before parsing, json-depth.ts),
 * and may not carry unknown fields; each method has its own request size limit; client deadlines
 * past the server's cap are shortened; calls can be refused from their headers before the body is read; and gRPC
 * errors go out Trailers-Only, so that gRPC clients may retry them (see grpc-trailers-only.ts).
 * Unknown paths go to `fallback` (404 without one).
 */
export function createNodeHandler(options: NodeHandlerOptions): NodeHandler {
  // connect-es ignores unknown JSON fields by default, so a misspelt field would be a silent no-op.
  // createJsonSerialization reads `textDecoder`, which the router's option type does not list.
  const jsonOptions = (method?: DescMethod) =>
    ({
      ...options.jsonOptions,
      ignoreUnknownFields: false,
      textDecoder: method
        ? depthCheckingDecoder(method.input, FATAL_UTF8)
        : new TextDecoder("utf-8", { fatal: true }),
    }) as ConnectNodeAdapterOptions["jsonOptions"];
  const router = createConnectRouter({
    acceptCompression: [compressionGzip, compressionBrotli],
    ...options,
    jsonOptions: jsonOptions(),
    interceptors: [bodyDecoded, sliceDecoded, ...(options.interceptors ?? [])],
  });
  options.routes(
    withMethodOptions(router, (method) => ({
      readMaxBytes: options.requestLimit(method),
      jsonOptions: jsonOptions(method),
    })),
  );
  const paths = new Map<string, UniversalHandler>();
  for (const handler of router.handlers) {
    const sliced = decodingInSlices(handler, {
      readMaxBytes: options.requestLimit(handler.method),
      json: { ...options.jsonOptions, ignoreUnknownFields: false },
      binary: options.binaryOptions,
      decoder: FATAL_UTF8,
    });
    paths.set(handler.requestPath, correctWireErrors(admitting(sliced, options)));
  }
  const serve = (request: NodeRequest, response: NodeResponse) => {
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
    // Outside the try below: a throw from our own code is a bug that must show, not a bad request.
    const contextValues = options.contextValues?.(request);
    let universal: ReturnType<typeof universalRequestFromNodeRequest>;
    try {
      universal = universalRequestFromNodeRequest(request, response, undefined, contextValues);
    } catch {
      // connect-node throws, outside any promise, on a request it cannot describe (HTTP/1.0 or 1.1 without Host,
      // HTTP/2 without :authority): that is the client's fault, and thrown here it would end the process.
      response.writeHead(400);
      response.end();
      return;
    }
    handler(universal)
      .then((universal) => writeResponse(universal, response))
      // A failed write to a client that went away, or a response that could not be produced: never leave the
      // client waiting.
      .catch(() => response.destroy());
  };
  return Object.assign(serve, {
    procedure: (path: string) => {
      const handler = paths.get(path);
      return handler && { method: handler.method, limit: options.requestLimit(handler.method) };
    },
    call: (
      path: string,
      request: NodeRequest,
      response: NodeResponse,
      rewrite: (universal: UniversalServerRequest) => UniversalServerRequest,
    ) => {
      const handler = paths.get(path);
      if (!handler) return Promise.reject(new Error(`no procedure at ${path}`));
      try {
        return handler(
          rewrite(
            universalRequestFromNodeRequest(request, response, undefined, options.contextValues?.(request)),
          ),
        );
      } catch (error) {
        // A request connect-node cannot take (no authority): the caller's catch answers it, not the process.
        return Promise.reject(error);
      }
    },
  });
}

/**
 * A router whose `service` registers each method on its own, with the method's own options (request limit,
 * JSON depth check): connect-es takes options per registration, not per method.
 */
function withMethodOptions(
  router: ConnectRouter,
  methodOptions: (method: DescMethod) => Pick<ConnectNodeAdapterOptions, "readMaxBytes" | "jsonOptions">,
): ConnectRouter {
  const limited: ConnectRouter = {
    handlers: router.handlers,
    rpc: (method, impl, rpcOptions) => {
      router.rpc(method, impl, { ...rpcOptions, ...methodOptions(method) });
      return limited;
    },
    service: (service, implementation, serviceOptions) => {
      // connect-es's own binding of each method (UNIMPLEMENTED where the implementation has none).
      const spec = createServiceImplSpec(service, implementation);
      for (const method of service.methods) {
        const impl = spec.methods[method.localName]?.impl;
        router.rpc(method, impl as never, { ...serviceOptions, ...methodOptions(method) });
      }
      return limited;
    },
  };
  return limited;
}

/** A gRPC or Connect streaming body frames its message with 5 bytes more than the message's own limit. */
const GRPC_ENVELOPE_BYTES = 5;

/**
 * Runs `admit`, the body budget and caps deadlines before connect-es sees the request. A refused call's body is
 * replaced by one that fails with the refusal on first read, so connect-es answers it in the call's own
 * protocol without the real body being touched.
 */
function admitting(handler: UniversalHandler, options: NodeHandlerOptions): UniversalHandler {
  const maxDeclared = options.requestLimit(handler.method) + GRPC_ENVELOPE_BYTES;
  const wrapped = (request: UniversalServerRequest) => {
    capTimeoutHeaders(request.header, options.maxTimeoutMs);
    let refusal = options.admit?.(handler.method, request);
    let release = (): void => undefined;
    if (!refusal && options.bodyBudget) {
      ({ refusal, release } = guardBody(handler.method, request, options.bodyBudget, maxDeclared));
      request.contextValues = (request.contextValues ?? createContextValues()).set(releaseBodyKey, release);
    }
    if (!refusal) return handler(request).finally(release);
    request.body = (async function* refused(): AsyncGenerator<Uint8Array> {
      yield* [];
      throw refusal;
    })();
    options.onRefused?.(handler.method, refusal, request);
    return handler(request);
  };
  return Object.assign(wrapped, { ...handler });
}

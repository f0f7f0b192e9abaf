import type { DescService, JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import type { NodeHandler } from "../../rpc/node-handler.js";
import type { HttpRequest, HttpResponse, Middleware } from "../middleware.js";
import { docsRoute } from "./docs-route.js";
import { renameEnums, restEnumName } from "./enum-names.js";
import { type RestRoute, readRestRoutes } from "./http-rules.js";
import { openApiRoute } from "./openapi-route.js";
import { matchPath } from "./path-template.js";
import { type RestError, restError, restErrorFromConnect } from "./rest-errors.js";
import { transcodeRequest } from "./transcode-request.js";

/** Paths under this prefix are REST routes: one that matches no route is a REST 404, not a Connect one. */
const REST_PREFIX = "/v1/";
// Deadlines as Envoy's transcoder takes them: Google's X-Server-Timeout in seconds, or gRPC's grpc-timeout.
const SERVER_TIMEOUT = /^\d+(\.\d+)?$/;
const GRPC_TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 1e-3, n: 1e-6 };

/**
 * Serves the REST routes of `services`' google.api.http options (gRPC transcoding, as Vanguard and Envoy do it):
 * each REST call becomes a Connect JSON call of its RPC on `handler`, so authentication, firm scoping, limits,
 * deadlines, logging, metrics and error mapping are those of every other call. Answers use protobuf JSON names,
 * enums in the REST form (see enum-names.ts), and errors in the AIP-193 shape with google.rpc.Code's HTTP
 * status. GET /openapi.json serves their OpenAPI document, GET /docs a reference page on it. Other paths pass on.
 */
export function restMiddleware(handler: NodeHandler, services: readonly DescService[]): Middleware {
  const routes = readRestRoutes(services);
  const openApi = openApiRoute();
  const docs = docsRoute();
  return (request, response) => {
    if (openApi(request, response) || docs(request, response)) return true;
    const url = request.url ?? "/";
    const queryAt = url.indexOf("?");
    const rawPath = queryAt < 0 ? url : url.slice(0, queryAt);
    const matches = routes.flatMap((route) => {
      const values = matchPath(route.template, rawPath);
      return values ? [{ route, values }] : [];
    });
    if (matches.length === 0) {
      if (!rawPath.startsWith(REST_PREFIX)) return false;
      send(response, restError(new ConnectError("no REST route has this path", Code.NotFound)));
      return true;
    }
    const match = matches.find((m) => m.route.httpMethod === request.method);
    if (!match) {
      const allowed = [...new Set(matches.map((m) => m.route.httpMethod))].join(", ");
      const error = restError(new ConnectError(`this path takes ${allowed}`, Code.Unimplemented));
      send(response, { ...error, status: 405, headers: { allow: allowed } });
      return true;
    }
    const query = new URLSearchParams(queryAt < 0 ? "" : url.slice(queryAt + 1));
    serveRoute(handler, match.route, match.values, query, request, response);
    return true;
  };
}

function serveRoute(
  handler: NodeHandler,
  route: RestRoute,
  pathValues: ReadonlyMap<string, string>,
  query: URLSearchParams,
  request: HttpRequest,
  response: HttpResponse,
): void {
  const path = `/${route.method.parent.typeName}/${route.method.name}`;
  const limit = handler.procedure(path)?.limit ?? 0;
  // The body is read and transcoded only when connect-es reads the call's body, after admission: a call refused
  // from its headers (authentication) is refused before any of its body is read, as on Connect.
  async function* body(): AsyncGenerator<Uint8Array> {
    const json = route.body === "" ? undefined : await readJson(request, limit, path);
    yield new TextEncoder().encode(JSON.stringify(transcodeRequest(route, pathValues, query, json)));
  }
  const rewrite = (universal: UniversalServerRequest): UniversalServerRequest => ({
    ...universal,
    method: "POST",
    url: new URL(path, universal.url).toString(),
    header: connectHeaders(universal.header),
    body: body(),
  });
  handler
    .call(path, request, response, rewrite)
    .then(async (answer) => {
      const bytes = await readAll(answer);
      if (answer.status !== 200) {
        send(response, restErrorFromConnect(answer.status, bytes), answer.header);
        return;
      }
      const json = JSON.parse(new TextDecoder().decode(bytes)) as JsonValue;
      const renamed = renameEnums(route.method.output, json, (desc, value) =>
        typeof value === "string" ? restEnumName(desc, value) : value,
      );
      writeJson(response, 200, renamed, answer.header);
    })
    // A client that went away, or an answer that could not be produced: never leave the client waiting.
    .catch(() => response.destroy());
}

/** The REST request's headers as a Connect JSON unary call's: the caller's own headers stay (authorization...). */
function connectHeaders(original: Headers): Headers {
  const header = new Headers(original);
  for (const name of ["content-length", "content-encoding", "accept-encoding", "connect-timeout-ms"]) {
    header.delete(name);
  }
  header.set("content-type", "application/json");
  header.set("connect-protocol-version", "1");
  const serverTimeout = header.get("x-server-timeout");
  const grpcTimeout = GRPC_TIMEOUT.exec(header.get("grpc-timeout") ?? "");
  let timeoutMs: number | undefined;
  if (serverTimeout !== null) {
    timeoutMs = SERVER_TIMEOUT.test(serverTimeout) ? Number(serverTimeout) * 1_000 : Number.NaN;
  } else if (header.has("grpc-timeout")) {
    timeoutMs = grpcTimeout ? Number(grpcTimeout[1]) * (UNIT_MS[grpcTimeout[2] as string] ?? 0) : Number.NaN;
  }
  header.delete("x-server-timeout");
  header.delete("grpc-timeout");
  // A malformed value is passed on as one, for connect-es to refuse as it refuses a malformed Connect deadline.
  if (timeoutMs !== undefined) {
    header.set(
      "connect-timeout-ms",
      Number.isFinite(timeoutMs) ? String(Math.max(1, Math.ceil(timeoutMs))) : "x",
    );
  }
  return header;
}

/** The request body as JSON, at most `limit` bytes; undefined when empty. */
async function readJson(
  request: HttpRequest,
  limit: number,
  procedure: string,
): Promise<JsonValue | undefined> {
  const encoding = request.headers["content-encoding"];
  if (encoding !== undefined && encoding !== "identity") {
    throw new ConnectError(
      `content-encoding ${encoding} is not accepted on REST routes; send the body uncompressed`,
      Code.InvalidArgument,
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      throw new ConnectError(
        `the request is larger than the ${limit}-byte limit of ${procedure.slice(1)} (each RPC has its own limit, at most MAX_REQUEST_BYTES)`,
        Code.ResourceExhausted,
      );
    }
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks))) as JsonValue;
  } catch {
    throw new ConnectError("the request body is not valid JSON", Code.InvalidArgument);
  }
}

async function readAll(answer: UniversalServerResponse): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of answer.body ?? []) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function send(response: HttpResponse, error: RestError, from?: Headers): void {
  writeJson(response, error.status, error.body, from, error.headers);
}

/** Writes a JSON answer with the call's own response headers (x-request-id...), but not its Connect framing. */
function writeJson(
  response: HttpResponse,
  status: number,
  json: unknown,
  from?: Headers,
  extra: Readonly<Record<string, string>> = {},
): void {
  const body = Buffer.from(JSON.stringify(json));
  const headers: Record<string, string> = {};
  from?.forEach((value, name) => {
    if (!name.startsWith("content-") && name !== "connect-protocol-version") headers[name] = value;
  });
  Object.assign(headers, extra, {
    "content-type": "application/json",
    "content-length": String(body.length),
  });
  response.writeHead(status, headers);
  response.end(body);
}

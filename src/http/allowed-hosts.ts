import http2 from "node:http2";
import { grpcPercentEncode } from "../rpc/wire-errors.js";
import type { HttpRequest, HttpResponse, Middleware } from "./middleware.js";

/** ALLOWED_HOSTS' value that turns the check off: any Host is served. */
export const ANY_HOST = "*";

/** The loopback names a local client may use; served by default, with the bind address. */
export const LOOPBACK_HOSTS: readonly string[] = ["localhost", "127.0.0.1", "[::1]"];

// An RPC path is /package.Service/Method; anything else is a plain HTTP route (probes, metrics).
const RPC_PATH = /^\/[\w.]+\/\w+$/;
const GRPC_PERMISSION_DENIED = "7";

/**
 * The Host names served without API keys: the loopback names and the bind address (an IPv6 one in brackets, as
 * a Host header writes it). A wildcard bind address (0.0.0.0, ::) is no name a client sends; such a deployment
 * lists its names in ALLOWED_HOSTS.
 */
export function defaultAllowedHosts(bindHost: string): readonly string[] {
  const bind = normalHost(bindHost.includes(":") ? `[${bindHost}]` : bindHost);
  return Object.freeze([...new Set([...LOOPBACK_HOSTS, bind])]);
}

/** A host name as compared: lower case, without a port ("Localhost:8080" and "localhost" are one name). */
export function normalHost(host: string): string {
  const lower = host.trim().toLowerCase();
  if (lower.startsWith("[")) return lower.slice(0, lower.indexOf("]") + 1);
  const colon = lower.indexOf(":");
  return colon === -1 ? lower : lower.slice(0, colon);
}

/**
 * Refuses requests addressed to a Host (HTTP/2 `:authority`) that is not listed, before any other work, so that a
 * web page cannot reach a service bound to loopback through DNS rebinding (its requests carry the attacker's
 * name in Host). Only in anonymous mode: with API keys, a rebinding page has no token, and keys protect every
 * ContactService call. RPC paths are refused as PERMISSION_DENIED in the call's protocol, other routes with a 403
 * text. A request without any Host is served: browsers always send one.
 */
export function allowedHostsMiddleware(allowedHosts: readonly string[], authenticated: boolean): Middleware {
  const allowed = new Set(allowedHosts.map(normalHost));
  if (authenticated || allowed.has(ANY_HOST)) return () => false;
  return (request, response) => {
    const host = hostOf(request);
    if (host === undefined || allowed.has(normalHost(host))) return false;
    refuse(request, response, host);
    return true;
  };
}

function hostOf(request: HttpRequest): string | undefined {
  const authority = request.headers[":authority"];
  const host = typeof authority === "string" && authority !== "" ? authority : request.headers.host;
  return host === undefined || host === "" ? undefined : host;
}

function refuse(request: HttpRequest, response: HttpResponse, host: string): void {
  // The name is echoed so the operator can list it; cut and reduced to printable ASCII, as it is untrusted.
  const shown = host.slice(0, 100).replace(/[^\x20-\x7e]/g, "?");
  const message = `host ${JSON.stringify(shown)} is not served: without API keys only the names in ALLOWED_HOSTS are (a guard against DNS rebinding)`;
  const path = (request.url ?? "").split("?", 1)[0] ?? "";
  const contentType = String(request.headers["content-type"] ?? "");
  if (!RPC_PATH.test(path)) {
    send(response, 403, { "content-type": "text/plain; charset=utf-8" }, `${message}\n`);
  } else if (contentType.startsWith("application/grpc")) {
    // gRPC and gRPC-Web: Trailers-Only, the status in the only HEADERS frame (see grpc-trailers-only.ts).
    const headers = {
      "content-type": contentType.startsWith("application/grpc-web")
        ? "application/grpc-web+proto"
        : "application/grpc",
      "grpc-status": GRPC_PERMISSION_DENIED,
      "grpc-message": grpcPercentEncode(message),
    };
    if (response instanceof http2.Http2ServerResponse) {
      if (!response.stream.destroyed)
        response.stream.respond({ ":status": 200, ...headers }, { endStream: true });
    } else {
      send(response, 200, headers, "");
    }
  } else {
    // Connect: an error is a JSON body under the HTTP status of its code (permission_denied: 403).
    const body = JSON.stringify({ code: "permission_denied", message });
    send(response, 403, { "content-type": "application/json" }, body);
  }
}

function send(response: HttpResponse, status: number, headers: Record<string, string>, body: string): void {
  if (response.headersSent) return;
  response.statusCode = status;
  for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
  response.setHeader("Cache-Control", "no-store");
  response.setHeader("Content-Length", Buffer.byteLength(body));
  response.end(body);
}

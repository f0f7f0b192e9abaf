import { cors } from "@connectrpc/connect";
import type { Middleware } from "./middleware.js";

/** Request headers a browser may send: Connect's, gRPC-Web's, and ours (X-Server-Timeout: REST deadlines). */
export const CORS_ALLOWED_HEADERS: readonly string[] = [
  ...cors.allowedHeaders,
  "Authorization",
  "X-Request-Id",
  "X-Server-Timeout",
];
/** Response headers a browser script may read: the status and error details of gRPC-Web, and ours. */
export const CORS_EXPOSED_HEADERS: readonly string[] = [...cors.exposedHeaders, "X-Request-Id"];
/** Methods a browser may use: Connect's (POST, GET) and the REST routes' (PATCH, DELETE). */
export const CORS_ALLOWED_METHODS: readonly string[] = [...cors.allowedMethods, "PATCH", "DELETE"];
/** How long a browser may cache a preflight answer; Chrome caps it at 7200 seconds anyway. */
export const CORS_MAX_AGE_SECONDS = 7_200;

/**
 * CORS for browser clients of the listed origins (exact `scheme://host[:port]` strings). A listed origin gets
 * the CORS headers; any other origin gets none, so the browser withholds the response from its script. Preflight
 * requests are answered here with 204, whatever the origin.
 */
export function corsMiddleware(origins: readonly string[]): Middleware {
  const allowed = new Set(origins);
  return (request, response) => {
    if (allowed.size === 0) return false;
    // Caches must not hand one origin's answer to another.
    response.setHeader("Vary", "Origin");
    const origin = request.headers.origin;
    const isAllowed = typeof origin === "string" && allowed.has(origin);
    const isPreflight =
      request.method === "OPTIONS" && request.headers["access-control-request-method"] !== undefined;
    if (isAllowed) response.setHeader("Access-Control-Allow-Origin", origin);
    if (!isPreflight) {
      if (isAllowed) response.setHeader("Access-Control-Expose-Headers", CORS_EXPOSED_HEADERS.join(", "));
      return false;
    }
    response.setHeader("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
    if (isAllowed) {
      response.setHeader("Access-Control-Allow-Methods", CORS_ALLOWED_METHODS.join(", "));
      response.setHeader("Access-Control-Allow-Headers", CORS_ALLOWED_HEADERS.join(", "));
      response.setHeader("Access-Control-Max-Age", String(CORS_MAX_AGE_SECONDS));
    }
    response.statusCode = 204;
    response.end();
    return true;
  };
}

import type { Registry } from "prom-client";
import type { Middleware } from "./middleware.js";

/** `GET /metrics` in the Prometheus text format. */
export function metricsRoute(registry: Registry): Middleware {
  return (request, response) => {
    if ((request.url ?? "").split("?", 1)[0] !== "/metrics" || request.method !== "GET") return false;
    registry.metrics().then(
      (text) => {
        response.statusCode = 200;
        response.setHeader("Content-Type", registry.contentType);
        response.setHeader("Cache-Control", "no-store");
        response.end(text);
      },
      () => {
        response.statusCode = 500;
        response.end();
      },
    );
    return true;
  };
}

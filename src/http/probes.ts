import type { Readiness } from "../rpc/readiness.js";
import type { HttpResponse, Middleware } from "./middleware.js";

/**
 * Plain HTTP probes for orchestrators and load balancers: `GET /healthz` answers 200 while the process runs;
 * `GET /readyz` answers 200 while `readiness` holds and 503 when the database does not answer or shutdown began.
 */
export function probeRoutes(readiness: Readiness): Middleware {
  return (request, response) => {
    const path = (request.url ?? "").split("?", 1)[0];
    if (path !== "/healthz" && path !== "/readyz") return false;
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.setHeader("Allow", "GET, HEAD");
      send(response, 405, "method not allowed\n", false);
      return true;
    }
    const head = request.method === "HEAD";
    if (path === "/healthz") {
      send(response, 200, "ok\n", head);
      return true;
    }
    readiness.check().then(
      (ready) => send(response, ready ? 200 : 503, ready ? "ready\n" : "not ready\n", head),
      () => send(response, 503, "not ready\n", head),
    );
    return true;
  };
}

function send(response: HttpResponse, status: number, body: string, head: boolean): void {
  response.statusCode = status;
  response.setHeader("Content-Type", "text/plain; charset=utf-8");
  response.setHeader("Cache-Control", "no-store");
  response.setHeader("Content-Length", Buffer.byteLength(body));
  if (head) response.end();
  else response.end(body);
}

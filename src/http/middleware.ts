import type http from "node:http";
import type http2 from "node:http2";

/** A request as either of the one port's servers (HTTP/1.1 or h2c) hands it over. */
export type HttpRequest = http.IncomingMessage | http2.Http2ServerRequest;
/** The response that goes with an HttpRequest. */
export type HttpResponse = http.ServerResponse | http2.Http2ServerResponse;

/**
 * Looks at a request before the RPC handler does. Returns true when it has taken the request over (answered it
 * or will), false to pass it on, possibly after setting response headers.
 */
export type Middleware = (request: HttpRequest, response: HttpResponse) => boolean;

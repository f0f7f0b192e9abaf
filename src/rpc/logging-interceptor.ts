import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "../logger.js";

/**
 * Logs one line per call: procedure, status code, duration and firm. Never the message bodies, which hold
 * personal data. Runs outside the error mapping, so it sees the code the client gets.
 */
export function loggingInterceptor(logger: Logger): Interceptor {
  return (next) => async (request) => {
    const started = performance.now();
    const firm = request.stream ? undefined : (request.message as { firmId?: unknown }).firmId;
    // Connect's Code enum has no OK; gRPC's name for success is used.
    const line = (code: string) => ({
      method: `${request.service.typeName}/${request.method.name}`,
      code,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      firm: typeof firm === "string" && firm !== "" ? firm : undefined,
      protocol: request.requestMethod === "GET" ? "connect-get" : request.header.get("content-type"),
    });
    try {
      const response = await next(request);
      logger.info(line("OK"), "call");
      return response;
    } catch (error) {
      logger.info(line(Code[ConnectError.from(error).code]), "call");
      throw error;
    }
  };
}

import type { Context } from "@opentelemetry/api";
import { trace } from "@opentelemetry/api";
import { pino } from "pino";
import type { LogLevel } from "./config.js";

/** The structured logger every layer receives; JSON lines on stdout. */
export type Logger = pino.Logger;

/** A JSON logger at `level`. Call logs never hold request or response bodies: contacts are personal data. */
export function createLogger(level: LogLevel): Logger {
  return pino({ level, base: { service: "contacts" }, timestamp: pino.stdTimeFunctions.isoTime });
}

/**
 * The same logger, each line of which names the trace and span active when it was written (`trace_id`,
 * `span_id`, as OpenTelemetry's log conventions spell them), so a call's log lines and its trace find each
 * other. Only used when tracing is on: a line costs nothing more otherwise.
 */
export function withTraceIds(logger: Logger, active: () => Context): Logger {
  return logger.child(
    {},
    {
      formatters: {
        log(object) {
          const span = trace.getSpanContext(active());
          return span ? { ...object, trace_id: span.traceId, span_id: span.spanId } : object;
        },
      },
    },
  );
}

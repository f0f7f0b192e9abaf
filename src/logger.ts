import type { Context } from "@opentelemetry/api";
import { trace } from "@opentelemetry/api";
import { pino } from "pino";
import type { LogLevel } from "./config.js";

/** The structured logger every layer receives; JSON lines on stdout. */
export type Logger = pino.Logger;

/** Log bytes the process may hold unwritten when stdout is slower than the service; past it lines are dropped. */
export const LOG_BUFFER_MAX_BYTES = 16 * 1024 * 1024;

/** Where the service's lines go: stdout, written asynchronously, so a call never waits for a write(2). */
export type LogDestination = ReturnType<typeof pino.destination>;

/**
 * Stdout as an asynchronous destination: lines are buffered and written off the call's path (a synchronous
 * write cost 63 to 79 µs a call at 1 in flight), at most LOG_BUFFER_MAX_BYTES of them. Exit through flushLogs, or
 * the last lines can be lost.
 */
export function stdoutDestination(): LogDestination {
  const destination = pino.destination({ fd: 1, sync: false, maxLength: LOG_BUFFER_MAX_BYTES });
  // Dropped lines are said on stderr, summed over a second, so losing them is never silent.
  let dropped = 0;
  let reporting = false;
  destination.on("drop", (data: string | Buffer) => {
    dropped += Buffer.byteLength(data);
    if (reporting) return;
    reporting = true;
    setTimeout(() => {
      process.stderr.write(
        `contacts: ${dropped} bytes of log lines dropped: stdout is read slower than they are written (at most ${LOG_BUFFER_MAX_BYTES} bytes are held)\n`,
      );
      dropped = 0;
      reporting = false;
    }, 1_000).unref();
  });
  return destination;
}

/**
 * Writes every buffered line and ends the destination (stdout itself stays open), then calls `done`. pino's own
 * flush at exit is synchronous and loses the rest of a write that was in flight when the pipe was full, so every
 * planned exit waits here first; at most `waitMs`, so a stdout nobody reads cannot keep the process forever.
 */
export function flushLogs(destination: LogDestination, done: () => void, waitMs = 10_000): void {
  let called = false;
  const once = () => {
    if (called) return;
    called = true;
    clearTimeout(timer);
    done();
  };
  const timer = setTimeout(once, waitMs);
  destination.once("close", once);
  destination.once("error", once);
  try {
    destination.end();
  } catch {
    once();
  }
}

/**
 * A JSON logger at `level`, to `destination` (synchronous stdout if none: tests and tools). Call logs never hold
 * request or response bodies: contacts are personal data.
 */
export function createLogger(level: LogLevel, destination?: LogDestination): Logger {
  const options = { level, base: { service: "contacts" }, timestamp: pino.stdTimeFunctions.isoTime };
  return destination ? pino(options, destination) : pino(options);
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

import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { pino } from "pino";
import { type App, type AppHooks, startApp } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { TEST_DATABASE_URL } from "./database.js";
import type { OtlpReceiver, ReceivedSpan } from "./otlp-receiver.js";

/** OTLP's SpanKind numbers. */
export const SERVER = 2;
export const CLIENT = 3;

/**
 * The app as main.ts starts it, configured by the environment parser, exporting its spans to `receiver` every
 * 50 ms, its log lines (at info) parsed into `lines`.
 */
export function startTracedApp(
  receiver: OtlpReceiver,
  env: Record<string, string> = {},
  lines: Record<string, unknown>[] = [],
  hooks: AppHooks = {},
): Promise<App> {
  const config = loadConfig({
    PORT: "0",
    DATABASE_URL: TEST_DATABASE_URL,
    SHUTDOWN_GRACE_MS: "2000",
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_SERVICE_NAME: "contacts-tracing-test",
    OTEL_BSP_SCHEDULE_DELAY: "50",
    ...env,
  });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return startApp(config, pino({ level: "info" }, sink), hooks);
}

/** `bytes` random bytes in hex: a trace id is 16, a span id 8. */
export const hex = (bytes: number) => randomBytes(bytes).toString("hex");

/** Matches the server span of a call of `method` on `firm`. */
export const rpcSpan =
  (firm: string, method = "UpsertContact") =>
  (span: ReceivedSpan) =>
    span.kind === SERVER &&
    span.attributes["contacts.firm_id"] === firm &&
    span.attributes["rpc.method"] === method;

/** The spans of `root`'s trace once they stop arriving (the app exports every 50 ms). */
export async function settled(receiver: OtlpReceiver, root: ReceivedSpan): Promise<ReceivedSpan[]> {
  let count = -1;
  for (;;) {
    const spans = receiver.spans.filter((s) => s.traceId === root.traceId);
    if (spans.length === count) return spans;
    count = spans.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

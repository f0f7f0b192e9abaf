import {
  type Attributes,
  type Context,
  type Link,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TimeInput,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import type { SamplerName, TracingConfig } from "./tracing-config.js";

/**
 * The service's tracer and its own context, passed to whatever traces (never registered globally, so several
 * instances in one process, as in the tests, keep their spans apart). Absent when tracing is off: then no hook
 * is installed at all, and a call costs what it did before tracing existed.
 */
export interface Tracing {
  readonly tracer: Tracer;
  /** The context of the code running now (its active span, if any). */
  active(): Context;
  /** Runs `fn` with `context` active, for everything it awaits too. */
  with<T>(context: Context, fn: () => T): T;
  /** The caller's trace context from W3C traceparent/tracestate headers; the root context without them. */
  extract(headers: Headers): Context;
  /** Exports the spans still buffered and stops. */
  shutdown(): Promise<void>;
}

const HEADERS: TextMapGetter<Headers> = {
  keys: (headers) => [...headers.keys()],
  get: (headers, key) => headers.get(key) ?? undefined,
};

/** Starts tracing with spans exported by OTLP over HTTP (protobuf), batched in the background. */
export function startTracing(config: TracingConfig, version = "0.1.0"): Tracing {
  return createTracing(
    new BatchSpanProcessor(new OTLPTraceExporter({ url: config.endpoint }), {
      scheduledDelayMillis: config.exportDelayMs,
    }),
    config,
    version,
  );
}

/** Tracing through any span processor (a test's or a benchmark's), with the config's sampler and resource. */
export function createTracing(
  processor: SpanProcessor,
  config: Pick<TracingConfig, "serviceName" | "sampler" | "samplerRatio">,
  version = "0.1.0",
): Tracing {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: config.serviceName,
      [ATTR_SERVICE_VERSION]: version,
    }),
    sampler: sampler(config.sampler, config.samplerRatio),
    spanProcessors: [processor],
  });
  const contexts = new AsyncLocalStorageContextManager().enable();
  const propagator = new W3CTraceContextPropagator();
  return {
    tracer: provider.getTracer("contacts-service", version),
    active: () => contexts.active(),
    with: (context, fn) => contexts.with(context, fn),
    extract: (headers) => propagator.extract(ROOT_CONTEXT, headers, HEADERS),
    async shutdown() {
      await provider.shutdown();
      contexts.disable();
    },
  };
}

function sampler(name: SamplerName, ratio: number): Sampler {
  const ratioSampler = new TraceIdRatioBasedSampler(ratio);
  switch (name) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return ratioSampler;
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: ratioSampler });
  }
}

/** What a span opened by `inSpan` starts with. */
export interface SpanStart {
  readonly kind?: SpanKind;
  readonly attributes?: Attributes;
  readonly links?: Link[];
  readonly startTime?: TimeInput;
  /** The parent context; the active one by default. */
  readonly parent?: Context;
}

/**
 * Runs `fn` in a new span, active while it runs: the span ends when `fn` settles, with an error status and an
 * exception event if it throws (see recordError: the error's type and code only).
 */
export async function inSpan<T>(
  tracing: Tracing,
  name: string,
  start: SpanStart,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = start.parent ?? tracing.active();
  const span = tracing.tracer.startSpan(name, { kind: SpanKind.INTERNAL, ...start }, parent);
  try {
    return await tracing.with(trace.setSpan(parent, span), () => fn(span));
  } catch (error) {
    recordError(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/**
 * Marks the span failed with the error's type and code, never its message: database and validation messages
 * can quote the values they are about (an email in a duplicate-key message), and values are personal data.
 */
export function recordError(span: Span, error: unknown): void {
  const type = errorType(error);
  span.addEvent("exception", { "exception.type": type });
  span.setAttribute("error.type", type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
}

/** A driver error's code (ER_DUP_ENTRY), else the error's class name (ConflictError). */
export function errorType(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" && /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : error.name;
  }
  return typeof error;
}

export { SpanKind };

/** The standard samplers of OTEL_TRACES_SAMPLER that this service knows. */
export const SAMPLERS = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
] as const;
export type SamplerName = (typeof SAMPLERS)[number];

/** Where and how spans go: set only when tracing is on. */
export interface TracingConfig {
  /** The OTLP/HTTP (protobuf) traces URL, like http://localhost:4318/v1/traces. */
  readonly endpoint: string;
  /** service.name of every span's resource (OTEL_SERVICE_NAME). */
  readonly serviceName: string;
  readonly sampler: SamplerName;
  /** The ratio of traces the ratio samplers keep, 0 to 1 (OTEL_TRACES_SAMPLER_ARG). */
  readonly samplerRatio: number;
  /** Longest a finished span waits in the buffer before it is exported (OTEL_BSP_SCHEDULE_DELAY). */
  readonly exportDelayMs: number;
}

/** OTLP/HTTP's port and path when OTEL_TRACES_EXPORTER=otlp names no endpoint (the specification's default). */
const DEFAULT_ENDPOINT = "http://localhost:4318/v1/traces";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads the standard OTEL_* variables: tracing is off unless OTEL_EXPORTER_OTLP_ENDPOINT (or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set or OTEL_TRACES_EXPORTER=otlp, and always off with
 * OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. Each bad value is pushed to `problems`, naming its key.
 */
export function readTracingConfig(env: Env, problems: string[]): TracingConfig | undefined {
  const get = (key: string) => {
    const value = env[key]?.trim();
    return value === "" ? undefined : value;
  };
  const bad = (key: string, message: string) => {
    problems.push(`${key}=${JSON.stringify(env[key])} ${message}`);
  };
  const exporter = get("OTEL_TRACES_EXPORTER");
  if (exporter !== undefined && exporter !== "otlp" && exporter !== "none") {
    bad("OTEL_TRACES_EXPORTER", "must be otlp or none");
  }
  const protocol = get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") ?? get("OTEL_EXPORTER_OTLP_PROTOCOL");
  if (protocol !== undefined && protocol !== "http/protobuf") {
    const key = get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
      ? "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
      : "OTEL_EXPORTER_OTLP_PROTOCOL";
    bad(key, "must be http/protobuf: only OTLP over HTTP with protobuf is supported");
  }
  const tracesEndpoint = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  const baseEndpoint = get("OTEL_EXPORTER_OTLP_ENDPOINT");
  // The signal's own endpoint is used as it is; the base one gets the signal's path (the specification's rule).
  const endpoint =
    tracesEndpoint ??
    (baseEndpoint === undefined ? undefined : `${baseEndpoint.replace(/\/+$/, "")}/v1/traces`);
  for (const [key, url] of [
    ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", tracesEndpoint],
    ["OTEL_EXPORTER_OTLP_ENDPOINT", baseEndpoint],
  ] as const) {
    if (url !== undefined && !/^https?:\/\/[^/]/.test(url)) bad(key, "must be an http:// or https:// URL");
  }
  const sampler = (get("OTEL_TRACES_SAMPLER") ?? "parentbased_always_on") as SamplerName;
  if (!SAMPLERS.includes(sampler)) bad("OTEL_TRACES_SAMPLER", `must be one of ${SAMPLERS.join(", ")}`);
  const arg = get("OTEL_TRACES_SAMPLER_ARG");
  const samplerRatio = arg === undefined ? 1 : Number(arg);
  if (arg !== undefined && !(samplerRatio >= 0 && samplerRatio <= 1)) {
    bad("OTEL_TRACES_SAMPLER_ARG", "must be a number from 0 to 1");
  }
  const delay = get("OTEL_BSP_SCHEDULE_DELAY");
  const exportDelayMs = delay === undefined ? 5_000 : Number(delay);
  if (
    delay !== undefined &&
    !(Number.isInteger(exportDelayMs) && exportDelayMs >= 1 && exportDelayMs <= 600_000)
  ) {
    bad("OTEL_BSP_SCHEDULE_DELAY", "must be a whole number of milliseconds from 1 to 600000");
  }
  const disabled = get("OTEL_SDK_DISABLED")?.toLowerCase() === "true" || exporter === "none";
  if (disabled || (endpoint === undefined && exporter !== "otlp")) return undefined;
  return Object.freeze({
    endpoint: endpoint ?? DEFAULT_ENDPOINT,
    serviceName: get("OTEL_SERVICE_NAME") ?? "contacts",
    sampler,
    samplerRatio,
    exportDelayMs,
  });
}

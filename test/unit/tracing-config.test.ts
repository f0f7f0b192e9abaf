import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { operations, statementShape } from "../../src/tracing/db-spans.js";
import { readTracingConfig } from "../../src/tracing/tracing-config.js";

const read = (env: Record<string, string>) => {
  const problems: string[] = [];
  return { config: readTracingConfig(env, problems), problems };
};

describe("tracing is configured by the standard OTEL_* variables", () => {
  it("is off by default, and when the exporter is none or the SDK disabled", () => {
    expect(loadConfig({}).otel).toBeUndefined();
    expect(read({ OTEL_SERVICE_NAME: "x" }).config).toBeUndefined();
    expect(
      read({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" }).config,
    ).toBeUndefined();
    expect(
      read({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_EXPORTER: "none" }).config,
    ).toBeUndefined();
  });

  it("is on with an endpoint (the traces path added to the base one) or OTEL_TRACES_EXPORTER=otlp", () => {
    expect(read({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" }).config).toEqual({
      endpoint: "http://collector:4318/v1/traces",
      serviceName: "contacts",
      sampler: "parentbased_always_on",
      samplerRatio: 1,
      exportDelayMs: 5000,
    });
    expect(read({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4318/custom" }).config?.endpoint).toBe(
      "http://c:4318/custom",
    );
    expect(read({ OTEL_TRACES_EXPORTER: "otlp" }).config?.endpoint).toBe("http://localhost:4318/v1/traces");
    expect(
      read({
        OTEL_TRACES_EXPORTER: "otlp",
        OTEL_SERVICE_NAME: "contacts-eu",
        OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG: "0.25",
      }).config,
    ).toMatchObject({ serviceName: "contacts-eu", sampler: "parentbased_traceidratio", samplerRatio: 0.25 });
  });

  it("names every bad value", () => {
    expect(() =>
      loadConfig({
        OTEL_TRACES_EXPORTER: "jaeger",
        OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318",
        OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
        OTEL_TRACES_SAMPLER: "sometimes",
        OTEL_TRACES_SAMPLER_ARG: "2",
        OTEL_BSP_SCHEDULE_DELAY: "0",
      }),
    ).toThrow(ConfigError);
    const { problems } = read({
      OTEL_TRACES_EXPORTER: "jaeger",
      OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318",
      OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
      OTEL_TRACES_SAMPLER: "sometimes",
      OTEL_TRACES_SAMPLER_ARG: "2",
      OTEL_BSP_SCHEDULE_DELAY: "0",
    });
    expect(problems.map((p) => p.split("=")[0])).toEqual([
      "OTEL_TRACES_EXPORTER",
      "OTEL_EXPORTER_OTLP_PROTOCOL",
      "OTEL_EXPORTER_OTLP_ENDPOINT",
      "OTEL_TRACES_SAMPLER",
      "OTEL_TRACES_SAMPLER_ARG",
      "OTEL_BSP_SCHEDULE_DELAY",
    ]);
  });
});

describe("a round trip's span holds the statements' shape", () => {
  it("folds repeated row groups and long placeholder lists, and cuts at MAX_STATEMENT_CHARS", () => {
    const rows = Array(1000).fill("(?, ?, @t, ?)").join(", ");
    expect(statementShape(`INSERT INTO t (a, b, c, d) VALUES ${rows}`)).toBe(
      "INSERT INTO t (a, b, c, d) VALUES (?, ?, @t, ?), …",
    );
    expect(statementShape(`SELECT a FROM t WHERE id IN (${Array(500).fill("?").join(", ")})`)).toBe(
      "SELECT a FROM t WHERE id IN (?, ?, …)",
    );
    expect(statementShape(`SELECT ${"a, ".repeat(2000)}b FROM t`)).toHaveLength(2048);
  });

  it("is named by its statements' leading keywords", () => {
    expect(operations(["START TRANSACTION", "SELECT a FROM t", "SELECT b FROM u"])).toBe(
      "START TRANSACTION; SELECT",
    );
    expect(operations(["(SELECT 1) UNION ALL (SELECT 2)", "COMMIT"])).toBe("SELECT; COMMIT");
  });
});

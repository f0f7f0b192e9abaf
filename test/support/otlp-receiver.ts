import http from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";

// The OTLP schema as OpenTelemetry's own package generates it (protobufjs static code of opentelemetry-proto).
const root = createRequire(import.meta.url)("otlp-transformer-protobufjs/build/src/generated/root.js");
const ExportTraceServiceRequest = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest as {
  decode(bytes: Uint8Array): { resourceSpans?: RawResourceSpans[] };
};

interface RawValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | { toString(): string };
  doubleValue?: number;
}
interface RawKeyValue {
  key: string;
  value?: RawValue;
}
interface RawSpan {
  traceId: Uint8Array;
  spanId: Uint8Array;
  parentSpanId?: Uint8Array;
  name: string;
  kind: number;
  traceState?: string;
  attributes?: RawKeyValue[];
  events?: { name: string; attributes?: RawKeyValue[] }[];
  links?: { traceId: Uint8Array; spanId: Uint8Array }[];
  status?: { code?: number; message?: string };
}
interface RawResourceSpans {
  resource?: { attributes?: RawKeyValue[] };
  scopeSpans?: { spans?: RawSpan[] }[];
}

/** An exported span, decoded: ids in hex, attributes as a plain record. */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** "" for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client. */
  readonly kind: number;
  readonly traceState: string;
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
  readonly events: readonly { name: string; attributes: Record<string, string | number | boolean> }[];
  readonly links: readonly { traceId: string; spanId: string }[];
  /** 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
  readonly resource: Readonly<Record<string, string | number | boolean>>;
}

/** An OTLP/HTTP traces endpoint in the test process, keeping every request's bytes and its decoded spans. */
export interface OtlpReceiver {
  /** The base URL, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly url: string;
  readonly bodies: Buffer[];
  readonly spans: ReceivedSpan[];
  /** Resolves once a span matching `predicate` arrived, or rejects after `timeoutMs`. */
  waitFor(predicate: (span: ReceivedSpan) => boolean, timeoutMs?: number): Promise<ReceivedSpan>;
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const bodies: Buffer[] = [];
  const spans: ReceivedSpan[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks);
      if (request.url !== "/v1/traces" || request.headers["content-type"] !== "application/x-protobuf") {
        response.writeHead(404).end();
        return;
      }
      bodies.push(body);
      spans.push(...decodeSpans(body));
      // An empty ExportTraceServiceResponse: everything accepted.
      response.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bodies,
    spans,
    async waitFor(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = spans.find(predicate);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no such span among ${spans.length} received`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The spans of one ExportTraceServiceRequest. */
export function decodeSpans(body: Uint8Array): ReceivedSpan[] {
  const request = ExportTraceServiceRequest.decode(body);
  return (request.resourceSpans ?? []).flatMap((rs) => {
    const resource = record(rs.resource?.attributes);
    return (rs.scopeSpans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map(
        (span): ReceivedSpan => ({
          traceId: hex(span.traceId),
          spanId: hex(span.spanId),
          parentSpanId: hex(span.parentSpanId),
          name: span.name,
          kind: span.kind,
          traceState: span.traceState ?? "",
          attributes: record(span.attributes),
          events: (span.events ?? []).map((e) => ({ name: e.name, attributes: record(e.attributes) })),
          links: (span.links ?? []).map((l) => ({ traceId: hex(l.traceId), spanId: hex(l.spanId) })),
          statusCode: span.status?.code ?? 0,
          resource,
        }),
      ),
    );
  });
}

function hex(bytes: Uint8Array | undefined): string {
  return bytes ? Buffer.from(bytes).toString("hex") : "";
}

function record(attributes: RawKeyValue[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of attributes ?? []) {
    if (value?.stringValue != null) out[key] = value.stringValue;
    else if (value?.boolValue != null) out[key] = value.boolValue;
    else if (value?.intValue != null) out[key] = Number(value.intValue.toString());
    else if (value?.doubleValue != null) out[key] = value.doubleValue;
  }
  return out;
}

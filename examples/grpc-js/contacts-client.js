// A grpc-js client for contacts.v1 built with @grpc/proto-loader from the repository's .proto files, and a
// decoder for the google.rpc error details the service sends. Plain JavaScript: runs with `node`, no build step.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { getProtoPath } from "google-proto-files";

/**
 * The proto-loader options to use with this service, stated once:
 * - keepCase false (the default): fields are camelCase (`firmId`), the JSON names the service's error messages
 *   and BadRequest field violations use. A snake_case key (`firm_id`) is then dropped silently, so write
 *   camelCase. With keepCase true you would send `firm_id` yet read errors about `firmId`.
 * - enums String: `result` reads "UPSERT_RESULT_CREATED", not 1.
 * - longs String: int64 values (a Timestamp's `seconds`) are decimal strings, not Long objects.
 * - defaults true: scalar fields the server left at their zero value still appear in responses.
 * - oneofs false: no virtual `_trackingId`-style properties for proto3 `optional` fields.
 */
export const LOADER_OPTIONS = {
  keepCase: false,
  enums: String,
  longs: String,
  defaults: true,
  oneofs: false,
};

// The contract's .proto files (from a checkout, proto/ at the repository root), and the google/ ones it imports
// (google.rpc.Status), from the google-proto-files package: getProtoPath("..") is the folder that holds google/.
const INCLUDE_DIRS = [fileURLToPath(new URL("../../proto", import.meta.url)), getProtoPath("..")];

/**
 * A ContactService client for `url` (http://host:port, or https:// for TLS), with grpc-js channel options such as
 * `{ "grpc.service_config": JSON.stringify(retryServiceConfig()) }`.
 */
export function contactServiceClient(url, channelOptions = {}) {
  const definition = protoLoader.loadSync(["contacts/v1/contact_service.proto"], {
    ...LOADER_OPTIONS,
    includeDirs: INCLUDE_DIRS,
  });
  const { contacts } = grpc.loadPackageDefinition(definition);
  const { protocol, host } = new URL(url);
  const credentials =
    protocol === "https:" ? grpc.credentials.createSsl() : grpc.credentials.createInsecure();
  return new contacts.v1.ContactService(host, credentials, channelOptions);
}

/**
 * The retry service config of docs/api.md's "Retrying from grpc-js" section, read from its marked block (as
 * test/integration/retry-policy.test.ts does), so the examples run the config that test proves. Your own client
 * would keep a copy of the block in its configuration instead.
 */
export function retryServiceConfig() {
  const page = readFileSync(new URL("../../docs/api.md", import.meta.url), "utf8");
  const marked = /<!-- grpc-js-retry:start -->\n```json\n([\s\S]*?)```\n<!-- grpc-js-retry:end -->/;
  const block = marked.exec(page)?.[1];
  if (!block) throw new Error("docs/api.md has no grpc-js-retry block");
  return JSON.parse(block);
}

/** Calls one unary method as a promise, with a deadline and an optional bearer token. */
export function call(client, method, request, { token, timeoutMs = 10_000 } = {}) {
  const metadata = new grpc.Metadata();
  if (token) metadata.set("authorization", `Bearer ${token}`);
  return new Promise((resolve, reject) => {
    client[method](request, metadata, { deadline: Date.now() + timeoutMs }, (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}

// google.rpc.Status and the detail messages, from the google-proto-files package.
const RPC_TYPES = protoLoader.loadSync(["google/rpc/status.proto", "google/rpc/error_details.proto"], {
  ...LOADER_OPTIONS,
  includeDirs: INCLUDE_DIRS,
});

/**
 * The details of a failed call: the service sends a google.rpc.Status, serialized, in the
 * `grpc-status-details-bin` trailer; each of its details is an Any naming its type (google.rpc.BadRequest,
 * google.rpc.ErrorInfo, ...). Returns each decoded detail with its type name, e.g.
 * `{ type: "google.rpc.BadRequest", fieldViolations: [{ field: "email", description: "..." }] }`.
 */
export function errorDetails(error) {
  const [bytes] = error.metadata?.get("grpc-status-details-bin") ?? [];
  if (!bytes) return [];
  return statusDetails(RPC_TYPES["google.rpc.Status"].deserialize(bytes));
}

/**
 * The decoded details of a google.rpc.Status as proto-loader gives it, e.g. the `error` of a failed
 * BatchUpsertContacts item: the same `{ type, ...fields }` objects as errorDetails returns.
 */
export function statusDetails(status) {
  return status.details.map((any) => {
    // protobufjs's built-in google.protobuf.Any keeps the proto name `type_url` whatever keepCase says.
    const typeUrl = any.typeUrl ?? any.type_url;
    const type = typeUrl.slice(typeUrl.lastIndexOf("/") + 1);
    const definition = RPC_TYPES[type];
    return definition ? { type, ...definition.deserialize(any.value) } : { type };
  });
}

/** A google.protobuf.Timestamp as proto-loader gives it (seconds as a string, with longs: String) as a Date. */
export function toDate({ seconds, nanos }) {
  return new Date(Number(seconds) * 1000 + Math.floor(nanos / 1e6));
}

/** The gRPC status name of a failed call or of a google.rpc.Status, e.g. "ALREADY_EXISTS". */
export function codeName(error) {
  return grpc.status[error.code] ?? String(error.code);
}

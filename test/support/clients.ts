import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { type Client, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import {
  ContactService,
  UpsertContactRequestSchema,
  type UpsertContactResponse,
  UpsertContactResponseSchema,
} from "../../gen/contacts/v1/contact_service_pb.js";
import { BadRequestSchema } from "../../gen-deps/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen-deps/google/rpc/status_pb.js";
import { codeName } from "../../src/rpc/logging-interceptor.js";

export type UpsertInit = MessageInitShape<typeof UpsertContactRequestSchema>;

/** A uniform face over every real client, so one test can run against each protocol. */
export interface UpsertClient {
  readonly name: string;
  upsert(request: UpsertInit, options?: CallOptions): Promise<UpsertContactResponse>;
  close(): void;
}

/** Per-call options every client supports: a deadline and request headers (gRPC metadata). */
export interface CallOptions {
  readonly timeoutMs?: number;
  readonly headers?: Readonly<Record<string, string>>;
}

/** What any client reports for a failed call, normalised: gRPC code name and the BadRequest field names. */
export interface CallFailure {
  readonly code: string;
  readonly message: string;
  readonly fields: readonly string[];
}

/** The gRPC client our callers use: @grpc/grpc-js, with protobuf-es doing the (de)serialisation. */
export function grpcJsClient(url: string): UpsertClient & { raw: grpc.Client } {
  const raw = new grpc.Client(new URL(url).host, grpc.credentials.createInsecure());
  return {
    name: "grpc-js",
    raw,
    upsert(request, options) {
      const deadline = options?.timeoutMs ? Date.now() + options.timeoutMs : Number.POSITIVE_INFINITY;
      return new Promise((resolve, reject) => {
        raw.makeUnaryRequest(
          "/contacts.v1.ContactService/UpsertContact",
          (message: UpsertInit) =>
            Buffer.from(toBinary(UpsertContactRequestSchema, create(UpsertContactRequestSchema, message))),
          (bytes: Buffer) => fromBinary(UpsertContactResponseSchema, bytes),
          request,
          metadataOf(options?.headers),
          { deadline },
          (error, response) => (error ? reject(error) : resolve(response as UpsertContactResponse)),
        );
      });
    },
    close: () => raw.close(),
  };
}

function metadataOf(headers: CallOptions["headers"]): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(headers ?? {})) metadata.set(key, value);
  return metadata;
}

function connectClient(name: string, transport: Transport): UpsertClient {
  const client: Client<typeof ContactService> = createClient(ContactService, transport);
  return {
    name,
    upsert: (request, options) =>
      client.upsertContact(request, { timeoutMs: options?.timeoutMs, headers: options?.headers }),
    close: () => undefined,
  };
}

/** connect-node's Connect protocol with JSON over HTTP/1.1, as a browser or curl would send it. */
export const connectJsonH1 = (url: string) =>
  connectClient(
    "connect-json-http1",
    createConnectTransport({ baseUrl: url, httpVersion: "1.1", useBinaryFormat: false }),
  );
/** connect-node's Connect protocol with protobuf over h2c. */
export const connectProtoH2 = (url: string) =>
  connectClient(
    "connect-proto-h2c",
    createConnectTransport({ baseUrl: url, httpVersion: "2", useBinaryFormat: true }),
  );
/** connect-node's gRPC-Web transport over HTTP/1.1. */
export const grpcWebH1 = (url: string) =>
  connectClient("grpc-web-http1", createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" }));
/** connect-node's gRPC transport over h2c. */
export const connectGrpcH2 = (url: string) =>
  connectClient("connect-grpc-h2c", createGrpcTransport({ baseUrl: url }));

/** Every client a caller may use, each a separate connection to the same server. */
export function allClients(url: string): UpsertClient[] {
  return [grpcJsClient(url), connectJsonH1(url), connectProtoH2(url), grpcWebH1(url), connectGrpcH2(url)];
}

/** Runs a call expected to fail and returns its normalised failure; throws if it succeeded. */
export async function failure(call: Promise<unknown>): Promise<CallFailure> {
  try {
    await call;
  } catch (error) {
    return normaliseFailure(error);
  }
  throw new Error("expected the call to fail, but it succeeded");
}

function normaliseFailure(error: unknown): CallFailure {
  // grpc-js: a ServiceError with a numeric code and the status details in trailing metadata.
  if (error && typeof error === "object" && "metadata" in error && error.metadata instanceof grpc.Metadata) {
    const e = error as grpc.ServiceError;
    const bin = e.metadata.get("grpc-status-details-bin")[0];
    const status = bin ? fromBinary(StatusSchema, bin as Buffer) : undefined;
    const fields =
      status?.details
        .filter((any) => any.typeUrl.endsWith("/google.rpc.BadRequest"))
        .flatMap((any) => fromBinary(BadRequestSchema, any.value).fieldViolations.map((v) => v.field)) ?? [];
    return { code: grpc.status[e.code] ?? String(e.code), message: status?.message ?? e.details, fields };
  }
  // connect-es: a ConnectError with typed details.
  const e = ConnectError.from(error);
  const fields = e.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field));
  return { code: codeName(e.code), message: e.rawMessage, fields };
}

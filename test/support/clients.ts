import {
  create,
  type DescMessage,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { type Client, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import {
  type AssignContactResponse,
  ContactService,
  type DeleteContactResponse,
  type GetContactResponse,
  type ListContactChangesResponse,
  type ListContactsResponse,
  type UnassignContactResponse,
  type UpdateContactResponse,
  type UpsertContactRequestSchema,
  type UpsertContactResponse,
} from "../../gen/contacts/v1/contact_service_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen-deps/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen-deps/google/rpc/status_pb.js";
import { codeName } from "../../src/rpc/logging-interceptor.js";

export type UpsertInit = MessageInitShape<typeof UpsertContactRequestSchema>;
type Method<K extends keyof typeof ContactService.method> = (typeof ContactService.method)[K];
type InitOf<K extends keyof typeof ContactService.method> = MessageInitShape<Method<K>["input"]>;
export type GetInit = InitOf<"getContact">;
export type ListInit = InitOf<"listContacts">;
export type UpdateInit = InitOf<"updateContact">;
export type DeleteInit = InitOf<"deleteContact">;
export type AssignInit = InitOf<"assignContact">;
export type UnassignInit = InitOf<"unassignContact">;
export type ChangesInit = InitOf<"listContactChanges">;

/** A uniform face over every real client, so one test can run against each protocol. */
export interface UpsertClient {
  readonly name: string;
  upsert(request: UpsertInit, options?: CallOptions): Promise<UpsertContactResponse>;
  get(request: GetInit, options?: CallOptions): Promise<GetContactResponse>;
  list(request: ListInit, options?: CallOptions): Promise<ListContactsResponse>;
  update(request: UpdateInit, options?: CallOptions): Promise<UpdateContactResponse>;
  delete(request: DeleteInit, options?: CallOptions): Promise<DeleteContactResponse>;
  assign(request: AssignInit, options?: CallOptions): Promise<AssignContactResponse>;
  unassign(request: UnassignInit, options?: CallOptions): Promise<UnassignContactResponse>;
  changes(request: ChangesInit, options?: CallOptions): Promise<ListContactChangesResponse>;
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
  /** The google.rpc.ErrorInfo detail, when the error carries one. */
  readonly info?: { readonly reason: string; readonly metadata: Readonly<Record<string, string>> };
}

/** The gRPC client our callers use: @grpc/grpc-js, with protobuf-es doing the (de)serialisation. */
export function grpcJsClient(url: string): UpsertClient & { raw: grpc.Client } {
  const raw = new grpc.Client(new URL(url).host, grpc.credentials.createInsecure());
  const unary =
    <I extends DescMessage, O extends DescMessage>(method: { name: string; input: I; output: O }) =>
    (request: MessageInitShape<I>, options?: CallOptions): Promise<MessageShape<O>> => {
      const deadline = options?.timeoutMs ? Date.now() + options.timeoutMs : Number.POSITIVE_INFINITY;
      return new Promise((resolve, reject) => {
        raw.makeUnaryRequest(
          `/${ContactService.typeName}/${method.name}`,
          (message: MessageInitShape<I>) =>
            Buffer.from(toBinary(method.input, create(method.input, message))),
          (bytes: Buffer) => fromBinary(method.output, bytes),
          request,
          metadataOf(options?.headers),
          { deadline },
          (error, response) => (error ? reject(error) : resolve(response as MessageShape<O>)),
        );
      });
    };
  const m = ContactService.method;
  return {
    name: "grpc-js",
    raw,
    upsert: unary(m.upsertContact),
    get: unary(m.getContact),
    list: unary(m.listContacts),
    update: unary(m.updateContact),
    delete: unary(m.deleteContact),
    assign: unary(m.assignContact),
    unassign: unary(m.unassignContact),
    changes: unary(m.listContactChanges),
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
  const call = (options?: CallOptions) => ({ timeoutMs: options?.timeoutMs, headers: options?.headers });
  return {
    name,
    upsert: (request, options) => client.upsertContact(request, call(options)),
    get: (request, options) => client.getContact(request, call(options)),
    list: (request, options) => client.listContacts(request, call(options)),
    update: (request, options) => client.updateContact(request, call(options)),
    delete: (request, options) => client.deleteContact(request, call(options)),
    assign: (request, options) => client.assignContact(request, call(options)),
    unassign: (request, options) => client.unassignContact(request, call(options)),
    changes: (request, options) => client.listContactChanges(request, call(options)),
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
    const infoAny = status?.details.find((any) => any.typeUrl.endsWith("/google.rpc.ErrorInfo"));
    const info = infoAny && fromBinary(ErrorInfoSchema, infoAny.value);
    return {
      code: grpc.status[e.code] ?? String(e.code),
      message: status?.message ?? e.details,
      fields,
      ...(info && { info: { reason: info.reason, metadata: { ...info.metadata } } }),
    };
  }
  // connect-es: a ConnectError with typed details.
  const e = ConnectError.from(error);
  const fields = e.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field));
  const [info] = e.findDetails(ErrorInfoSchema);
  return {
    code: codeName(e.code),
    message: e.rawMessage,
    fields,
    ...(info && { info: { reason: info.reason, metadata: { ...info.metadata } } }),
  };
}

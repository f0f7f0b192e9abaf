import { create, createRegistry, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import {
  BatchUpsertContactsRequestSchema,
  type BatchUpsertContactsResponse,
  BatchUpsertContactsResponseSchema,
  type BatchUpsertContactsResult,
  ContactService,
} from "../../gen/contacts/v1/contact_service_pb.js";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  file_google_rpc_error_details,
} from "../../gen-deps/google/rpc/error_details_pb.js";
import { codeName } from "../../src/rpc/logging-interceptor.js";
import { connectJsonH1, grpcJsClient, type UpsertClient } from "./clients.js";

export type BatchInit = MessageInitShape<typeof BatchUpsertContactsRequestSchema>;

/** A BatchUpsertContacts caller over one real client. */
export interface BatchClient {
  readonly name: string;
  batch(request: BatchInit, timeoutMs?: number): Promise<BatchUpsertContactsResponse>;
  close(): void;
}

const PROCEDURE = "/contacts.v1.ContactService/BatchUpsertContacts";

/** @grpc/grpc-js, with no cap on the size of the answer (a full batch's is tens of MiB). */
export function grpcJsBatchClient(url: string): BatchClient {
  const raw = new grpc.Client(new URL(url).host, grpc.credentials.createInsecure(), {
    "grpc.max_receive_message_length": -1,
    "grpc.max_send_message_length": -1,
  });
  return {
    name: "grpc-js",
    batch: (request, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        raw.makeUnaryRequest(
          PROCEDURE,
          (message: BatchInit) =>
            Buffer.from(
              toBinary(BatchUpsertContactsRequestSchema, create(BatchUpsertContactsRequestSchema, message)),
            ),
          (bytes: Buffer) => fromBinary(BatchUpsertContactsResponseSchema, bytes),
          request,
          new grpc.Metadata(),
          { deadline: Date.now() + timeoutMs },
          (error, response) => (error ? reject(error) : resolve(response as BatchUpsertContactsResponse)),
        );
      }),
    close: () => raw.close(),
  };
}

function connectBatchClient(name: string, transport: ReturnType<typeof createConnectTransport>): BatchClient {
  const client = createClient(ContactService, transport);
  return {
    name,
    batch: (request, timeoutMs = 60_000) => client.batchUpsertContacts(request, { timeoutMs }),
    close: () => undefined,
  };
}

/** Connect JSON over HTTP/1.1, as curl sends it. */
export const connectJsonBatchClient = (url: string) =>
  connectBatchClient(
    "connect-json-http1",
    createConnectTransport({
      baseUrl: url,
      httpVersion: "1.1",
      useBinaryFormat: false,
      // The items' error details are Any messages, which JSON spells out by their type.
      jsonOptions: { registry: createRegistry(file_google_rpc_error_details) },
    }),
  );
/** Connect with protobuf over h2c. */
export const connectProtoBatchClient = (url: string) =>
  connectBatchClient(
    "connect-proto-h2c",
    createConnectTransport({ baseUrl: url, httpVersion: "2", useBinaryFormat: true }),
  );
/** gRPC-Web over HTTP/1.1, as a browser sends it. */
export const grpcWebBatchClient = (url: string) =>
  connectBatchClient("grpc-web-http1", createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" }));

/** An item's error as plain values: code name, message, BadRequest field names and ErrorInfo, if any. */
export interface ItemError {
  readonly code: string;
  readonly message: string;
  readonly fields: readonly string[];
  readonly errorInfo?: { reason: string; domain: string; metadata: Record<string, string> };
}

/** Decodes a failed item's google.rpc.Status; undefined when the item succeeded. */
export function itemError(result: BatchUpsertContactsResult | undefined): ItemError | undefined {
  if (result?.outcome.case !== "error") return undefined;
  const status = result.outcome.value;
  const fields: string[] = [];
  let errorInfo: ItemError["errorInfo"];
  for (const any of status.details) {
    if (any.typeUrl === "type.googleapis.com/google.rpc.BadRequest") {
      fields.push(...fromBinary(BadRequestSchema, any.value).fieldViolations.map((v) => v.field));
    } else if (any.typeUrl === "type.googleapis.com/google.rpc.ErrorInfo") {
      const info = fromBinary(ErrorInfoSchema, any.value);
      errorInfo = { reason: info.reason, domain: info.domain, metadata: { ...info.metadata } };
    } else {
      throw new Error(`unexpected detail ${any.typeUrl}`);
    }
  }
  return { code: codeName(status.code), message: status.message, fields, ...(errorInfo && { errorInfo }) };
}

/**
 * grpc-js and Connect JSON, each as a single-call client and a batch client over the same URL: for tests that run
 * every case over both protocols.
 */
export function clientPairs(url: string): [UpsertClient, BatchClient][] {
  return [
    [grpcJsClient(url), grpcJsBatchClient(url)],
    [connectJsonH1(url), connectJsonBatchClient(url)],
  ];
}

/** Closes what clientPairs opened. */
export function closeClientPairs(pairs: readonly [UpsertClient, BatchClient][]): void {
  for (const [single, batch] of pairs) {
    single.close();
    batch.close();
  }
}

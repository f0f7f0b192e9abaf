import { execFile } from "node:child_process";
import { create, createFileRegistry, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ServerReflection,
  type ServerReflectionRequestSchema,
  type ServerReflectionResponse,
} from "../../gen-deps/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionAlpha } from "../../gen-deps/grpc/reflection/v1alpha/reflection_pb.js";
import {
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from "../../gen-deps/health/v1/health_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { uniqueFirm } from "../support/database.js";
import { REPO_ROOT } from "../support/server-process.js";

const SERVICES = [
  "contacts.v1.ContactService",
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
];

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app.close();
});

/** Runs the real `buf` binary; never hangs past its timeout. */
function buf(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      `${REPO_ROOT}node_modules/.bin/buf`,
      args,
      { cwd: REPO_ROOT, timeout: 20_000, killSignal: "SIGKILL" },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Sends reflection requests on one stream and collects the answers. */
async function reflect(
  requests: MessageInitShape<typeof ServerReflectionRequestSchema>[],
  service: typeof ServerReflection | typeof ServerReflectionAlpha = ServerReflection,
): Promise<ServerReflectionResponse[]> {
  const client = createClient(service as typeof ServerReflection, createGrpcTransport({ baseUrl: app.url }));
  async function* input() {
    yield* requests;
  }
  const out: ServerReflectionResponse[] = [];
  for await (const response of client.serverReflectionInfo(input(), { timeoutMs: 10_000 }))
    out.push(response);
  return out;
}

function fileNames(response: ServerReflectionResponse): string[] {
  if (response.messageResponse.case !== "fileDescriptorResponse") {
    throw new Error(`expected files, got ${response.messageResponse.case}`);
  }
  return response.messageResponse.value.fileDescriptorProto.map(
    (bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name,
  );
}

describe("buf curl, the real client, uses reflection", () => {
  it("lists every served service, over h2c and over HTTP/1.1", async () => {
    for (const args of [["--http2-prior-knowledge"], []]) {
      const run = await buf(["curl", "--list-services", ...args, app.url]);
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      expect(run.stdout.trim().split("\n")).toEqual(SERVICES);
    }
  });

  it("lists every method, through the older v1alpha protocol too", async () => {
    for (const protocol of ["grpc-v1", "grpc-v1alpha"]) {
      const run = await buf([
        "curl",
        "--list-methods",
        "--reflect-protocol",
        protocol,
        "--http2-prior-knowledge",
        app.url,
      ]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain("contacts.v1.ContactService/UpsertContact\n");
      expect(run.stdout).toContain("grpc.health.v1.Health/Watch\n");
      expect(run.stdout).toContain("grpc.reflection.v1.ServerReflection/ServerReflectionInfo\n");
    }
  });

  it("calls UpsertContact without --schema over every protocol", async () => {
    for (const protocol of [["grpc", "--http2-prior-knowledge"], ["grpcweb"], ["connect"]]) {
      const firmId = uniqueFirm(`reflect-${protocol[0]}`);
      const run = await buf([
        "curl",
        "--protocol",
        ...protocol,
        "-d",
        JSON.stringify({ firmId, email: "ann@example.com", firstName: "Ann", lastName: "Lee" }),
        `${app.url}/contacts.v1.ContactService/UpsertContact`,
      ]);
      expect(run.code, run.stderr).toBe(0);
      const body = JSON.parse(run.stdout);
      expect(body).toMatchObject({
        contact: { firmId, email: "ann@example.com" },
        result: "UPSERT_RESULT_CREATED",
      });
    }
  });

  it("describes a type through reflection: the file declaring google.rpc.BadRequest, with its dependencies", async () => {
    const run = await buf([
      "curl",
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      "-d",
      '{"fileContainingSymbol":"contacts.v1.UpsertContactRequest"} {"fileContainingSymbol":"google.rpc.BadRequest"}',
      `${app.url}/grpc.reflection.v1.ServerReflection/ServerReflectionInfo`,
    ]);
    expect(run.code, run.stderr).toBe(0);
    // buf curl prints one JSON object per streamed response.
    const files = [...run.stdout.matchAll(/"fileDescriptorProto":\s*\[([^\]]*)\]/g)].flatMap((match) =>
      [...(match[1] ?? "").matchAll(/"([A-Za-z0-9+/=]+)"/g)].map((b64) =>
        fromBinary(FileDescriptorProtoSchema, Buffer.from(b64[1] ?? "", "base64")),
      ),
    );
    // A file comes before its dependencies in the answer; a FileDescriptorSet wants them after.
    const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: files.reverse() }));
    const request = registry.getMessage("contacts.v1.UpsertContactRequest");
    expect(request?.fields.map((field) => field.name)).toContain("tracking_id");
    expect(registry.getMessage("contacts.v1.Contact")?.field.createTime?.message?.typeName).toBe(
      "google.protobuf.Timestamp",
    );
    expect(registry.getService("contacts.v1.ContactService")?.method.upsertContact).toBeDefined();
    expect(registry.getMessage("google.rpc.BadRequest.FieldViolation")?.fields.map((f) => f.name)).toContain(
      "field",
    );
  });
});

describe("the reflection protocol", () => {
  it("answers every kind of request on one stream, v1 and v1alpha alike", async () => {
    for (const service of [ServerReflection, ServerReflectionAlpha]) {
      const [list, bySymbol, byMethod, byName, again, extension, numbers, unknownType, unknownSymbol, empty] =
        await reflect(
          [
            { host: "h", messageRequest: { case: "listServices", value: "*" } },
            { messageRequest: { case: "fileContainingSymbol", value: "contacts.v1.ContactService" } },
            { messageRequest: { case: "fileContainingSymbol", value: "grpc.health.v1.Health.Watch" } },
            { messageRequest: { case: "fileByFilename", value: "google/rpc/status.proto" } },
            { messageRequest: { case: "fileContainingSymbol", value: "contacts.v1.Contact" } },
            {
              messageRequest: {
                case: "fileContainingExtension",
                value: { containingType: "contacts.v1.Contact", extensionNumber: 1000 },
              },
            },
            { messageRequest: { case: "allExtensionNumbersOfType", value: "google.rpc.ErrorInfo" } },
            { messageRequest: { case: "allExtensionNumbersOfType", value: "no.such.Type" } },
            { messageRequest: { case: "fileContainingSymbol", value: "no.such.Symbol" } },
            {},
          ],
          service,
        );
      expect(list?.validHost).toBe("h");
      expect(list?.originalRequest?.messageRequest.case).toBe("listServices");
      expect(list?.messageResponse.value).toMatchObject({ service: SERVICES.map((name) => ({ name })) });
      // The requested file first, then every dependency not yet sent on this stream.
      expect(fileNames(bySymbol as ServerReflectionResponse)).toEqual([
        "contacts/v1/contact_service.proto",
        "contacts/v1/contact.proto",
        "google/api/annotations.proto",
        "google/protobuf/field_mask.proto",
        "google/protobuf/timestamp.proto",
        "google/rpc/status.proto",
        "google/api/http.proto",
        "google/protobuf/descriptor.proto",
        "google/protobuf/any.proto",
      ]);
      expect(fileNames(byMethod as ServerReflectionResponse)).toEqual(["health/v1/health.proto"]);
      // Sent already as a dependency of the contract (BatchUpsertContactsResult carries a google.rpc.Status).
      expect(fileNames(byName as ServerReflectionResponse)).toEqual(["google/rpc/status.proto"]);
      // Already sent on this stream: the file itself comes again, its dependencies do not.
      expect(fileNames(again as ServerReflectionResponse)).toEqual(["contacts/v1/contact.proto"]);
      expect(extension?.messageResponse).toMatchObject({
        case: "errorResponse",
        value: { errorCode: Code.NotFound },
      });
      expect(numbers?.messageResponse).toMatchObject({
        case: "allExtensionNumbersResponse",
        value: { baseTypeName: "google.rpc.ErrorInfo", extensionNumber: [] },
      });
      expect(unknownType?.messageResponse).toMatchObject({
        case: "errorResponse",
        value: { errorCode: Code.NotFound },
      });
      expect(unknownSymbol?.messageResponse).toMatchObject({
        case: "errorResponse",
        value: { errorCode: Code.NotFound, errorMessage: 'symbol "no.such.Symbol" not found' },
      });
      expect(empty?.messageResponse).toMatchObject({
        case: "errorResponse",
        value: { errorCode: Code.InvalidArgument },
      });
    }
  });

  it("resolves every symbol a client may ask about, including the error details the server sends", async () => {
    const symbols = [
      "contacts.v1.ContactService.UpsertContact",
      "contacts.v1.UpsertContactRequest.email",
      "contacts.v1.UpsertResult",
      "contacts.v1.UPSERT_RESULT_CREATED",
      "google.rpc.BadRequest",
      "google.rpc.BadRequest.FieldViolation",
      "google.rpc.ErrorInfo",
      "google.rpc.Status",
      "grpc.health.v1.HealthCheckResponse.ServingStatus",
      "grpc.health.v1.HealthCheckResponse.SERVING",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflectionRequest",
      ".google.protobuf.Timestamp",
    ];
    const answers = await reflect(
      symbols.map((value) => ({ messageRequest: { case: "fileContainingSymbol", value } })),
    );
    expect(answers.map((answer) => answer.messageResponse.case)).toEqual(
      symbols.map(() => "fileDescriptorResponse"),
    );
  });
});

describe("health over grpc-js, a plain gRPC client", () => {
  it("answers SERVING for the server and for ContactService", async () => {
    const client = new grpc.Client(new URL(app.url).host, grpc.credentials.createInsecure());
    try {
      for (const service of ["", "contacts.v1.ContactService"]) {
        const response = await new Promise((resolve, reject) =>
          client.makeUnaryRequest(
            "/grpc.health.v1.Health/Check",
            (message: { service: string }) =>
              Buffer.from(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, message))),
            (bytes: Buffer) => fromBinary(HealthCheckResponseSchema, bytes),
            { service },
            new grpc.Metadata(),
            { deadline: Date.now() + 5_000 },
            (error, value) => (error ? reject(error) : resolve(value)),
          ),
        );
        expect(response).toMatchObject({ status: HealthCheckResponse_ServingStatus.SERVING });
      }
    } finally {
      client.close();
    }
  });
});

import { create, type DescFile, type DescService, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { nestedTypes } from "@bufbuild/protobuf/reflect";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import {
  type ServerReflectionRequest,
  type ServerReflectionResponse,
  ServerReflectionResponseSchema,
} from "../../gen-deps/grpc/reflection/v1/reflection_pb.js";

/** Everything the reflection service can describe, indexed once at startup. */
export interface ReflectionIndex {
  /** Fully-qualified names of the services this server answers, sorted. */
  readonly services: readonly string[];
  /** The file with this name (like "contacts/v1/contact.proto"). */
  fileByName(name: string): DescFile | undefined;
  /** The file declaring a fully-qualified symbol: service, method, message, field, oneof, enum, enum value. */
  fileBySymbol(symbol: string): DescFile | undefined;
  /** The file declaring the extension of `typeName` with field number `number`. */
  fileByExtension(typeName: string, number: number): DescFile | undefined;
  /** The extension numbers known for a message type; undefined if the type is unknown. */
  extensionNumbers(typeName: string): readonly number[] | undefined;
  /** The serialized google.protobuf.FileDescriptorProto of a file of this index. */
  encoded(file: DescFile): Uint8Array;
}

/**
 * Indexes the files declaring `services` and `extraFiles` (for example the error-detail types the server sends,
 * which clients must resolve to decode them), with all their dependencies.
 */
export function createReflectionIndex(
  services: readonly DescService[],
  extraFiles: readonly DescFile[] = [],
): ReflectionIndex {
  const files = new Map<string, DescFile>();
  const visit = (file: DescFile) => {
    if (files.has(file.proto.name)) return;
    files.set(file.proto.name, file);
    for (const dependency of file.dependencies) visit(dependency);
  };
  for (const service of services) visit(service.file);
  for (const file of extraFiles) visit(file);

  const symbols = new Map<string, DescFile>();
  const extensions = new Map<string, DescFile>();
  const extensionNumbers = new Map<string, number[]>();
  for (const file of files.values()) {
    for (const type of nestedTypes(file)) {
      symbols.set(type.typeName, file);
      switch (type.kind) {
        case "message":
          extensionNumbers.set(type.typeName, extensionNumbers.get(type.typeName) ?? []);
          for (const field of type.fields) symbols.set(`${type.typeName}.${field.name}`, file);
          for (const oneof of type.oneofs) symbols.set(`${type.typeName}.${oneof.name}`, file);
          break;
        case "enum": {
          // Enum values are scoped like C++ enumerators: siblings of their enum, not children.
          const scope = type.typeName.slice(0, type.typeName.length - type.name.length);
          for (const value of type.values) symbols.set(`${scope}${value.name}`, file);
          break;
        }
        case "service":
          for (const method of type.methods) symbols.set(`${type.typeName}.${method.name}`, file);
          break;
        case "extension": {
          extensions.set(`${type.extendee.typeName}#${type.number}`, file);
          const numbers = extensionNumbers.get(type.extendee.typeName) ?? [];
          extensionNumbers.set(type.extendee.typeName, [...numbers, type.number]);
          break;
        }
      }
    }
  }

  const encoded = new Map<DescFile, Uint8Array>();
  return {
    services: services.map((service) => service.typeName).sort(),
    fileByName: (name) => files.get(name),
    fileBySymbol: (symbol) => symbols.get(symbol.replace(/^\./, "")),
    fileByExtension: (typeName, number) => extensions.get(`${typeName.replace(/^\./, "")}#${number}`),
    extensionNumbers: (typeName) => extensionNumbers.get(typeName.replace(/^\./, "")),
    encoded(file) {
      let bytes = encoded.get(file);
      if (bytes === undefined) {
        bytes = toBinary(FileDescriptorProtoSchema, file.proto);
        encoded.set(file, bytes);
      }
      return bytes;
    },
  };
}

/**
 * Answers one reflection request. A file comes with its transitive dependencies, except those already sent on
 * this stream (`sent`, updated here), as grpc-go does; the requested file itself is always sent.
 */
export function answerReflection(
  index: ReflectionIndex,
  request: ServerReflectionRequest,
  sent: Set<string>,
): ServerReflectionResponse {
  const respond = (
    messageResponse: MessageInitShape<typeof ServerReflectionResponseSchema>["messageResponse"],
  ) =>
    create(ServerReflectionResponseSchema, {
      validHost: request.host,
      originalRequest: request,
      messageResponse,
    });
  const fail = (code: Code, errorMessage: string) =>
    respond({ case: "errorResponse", value: { errorCode: code, errorMessage } });
  const files = (file: DescFile | undefined, what: string) =>
    file === undefined
      ? fail(Code.NotFound, `${what} not found`)
      : respond({
          case: "fileDescriptorResponse",
          value: { fileDescriptorProto: withDependencies(index, file, sent) },
        });

  const { messageRequest: ask } = request;
  switch (ask.case) {
    case "listServices":
      return respond({
        case: "listServicesResponse",
        value: { service: index.services.map((name) => ({ name })) },
      });
    case "fileByFilename":
      return files(index.fileByName(ask.value), `file ${JSON.stringify(ask.value)}`);
    case "fileContainingSymbol":
      return files(index.fileBySymbol(ask.value), `symbol ${JSON.stringify(ask.value)}`);
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = ask.value;
      return files(
        index.fileByExtension(containingType, extensionNumber),
        `extension ${extensionNumber} of ${JSON.stringify(containingType)}`,
      );
    }
    case "allExtensionNumbersOfType": {
      const numbers = index.extensionNumbers(ask.value);
      if (numbers === undefined) return fail(Code.NotFound, `type ${JSON.stringify(ask.value)} not found`);
      return respond({
        case: "allExtensionNumbersResponse",
        value: { baseTypeName: ask.value.replace(/^\./, ""), extensionNumber: [...numbers] },
      });
    }
    case undefined:
      return fail(Code.InvalidArgument, "the request sets none of the message_request fields");
  }
}

function withDependencies(index: ReflectionIndex, file: DescFile, sent: Set<string>): Uint8Array[] {
  const out: Uint8Array[] = [];
  const queue = [file];
  const seen = new Set<string>();
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    if (seen.has(next.proto.name)) continue;
    seen.add(next.proto.name);
    if (next === file || !sent.has(next.proto.name)) out.push(index.encoded(next));
    sent.add(next.proto.name);
    queue.push(...next.dependencies);
  }
  return out;
}

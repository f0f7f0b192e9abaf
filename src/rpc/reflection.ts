import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import {
  ServerReflectionRequestSchema,
  ServerReflectionResponseSchema,
  ServerReflection as ServerReflectionV1,
} from "../../gen-deps/grpc/reflection/v1/reflection_pb.js";
import {
  ServerReflectionRequestSchema as AlphaRequestSchema,
  ServerReflectionResponseSchema as AlphaResponseSchema,
  ServerReflection as ServerReflectionV1Alpha,
} from "../../gen-deps/grpc/reflection/v1alpha/reflection_pb.js";
import { answerReflection, type ReflectionIndex } from "./reflection-index.js";

/** The two reflection services, which clients (grpcurl, buf curl) try in this order. */
export const REFLECTION_SERVICES = [ServerReflectionV1, ServerReflectionV1Alpha] as const;

/**
 * Registers gRPC server reflection under both grpc.reflection.v1 and grpc.reflection.v1alpha, answering from
 * `index`. It is bidi streaming, so it works over HTTP/2 only (gRPC, or Connect over h2c).
 */
export function registerReflection(router: ConnectRouter, index: ReflectionIndex): void {
  router.service(ServerReflectionV1, {
    async *serverReflectionInfo(requests) {
      const sent = new Set<string>();
      for await (const request of requests) yield answerReflection(index, request, sent);
    },
  });
  // v1alpha is the same protocol under an older package: its messages are wire-identical to v1's.
  router.service(ServerReflectionV1Alpha, {
    async *serverReflectionInfo(requests) {
      const sent = new Set<string>();
      for await (const alpha of requests) {
        const request = fromBinary(ServerReflectionRequestSchema, toBinary(AlphaRequestSchema, alpha));
        const response = answerReflection(index, request, sent);
        yield fromBinary(AlphaResponseSchema, toBinary(ServerReflectionResponseSchema, response));
      }
    },
  });
}

import { create, toBinary } from "@bufbuild/protobuf";
import { ContactService, UpsertContactRequestSchema } from "../../gen/contacts/v1/contact_service_pb.js";
import type { Random } from "./seeded-random.js";

// What the HTTP/2 and HTTP/1.1 fuzzers put in a request: real routes and bogus ones, real content types and
// bogus ones, well-formed bodies and broken ones, so that sequences reach the handlers as well as the parsers.

const RPC_PATHS = [
  ...ContactService.methods.map((m) => `/${ContactService.typeName}/${m.name}`),
  "/grpc.health.v1.Health/Check",
  "/grpc.health.v1.Health/Watch",
  "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
  "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

/** Request paths: every served RPC, the probes, and paths nothing serves. */
export const FUZZ_PATHS = [
  ...RPC_PATHS,
  "/healthz",
  "/readyz",
  "/metrics",
  "/",
  "*",
  "/no.such.Service/Method",
  `/${ContactService.typeName}/`,
  `/${ContactService.typeName}/UpsertContact?x=1`,
  "//../../etc/passwd",
  "/%ff%00",
  `/${"a".repeat(300)}`,
];

export const FUZZ_CONTENT_TYPES = [
  "application/grpc",
  "application/grpc+proto",
  "application/grpc-web",
  "application/grpc-web+proto",
  "application/grpc-web-text",
  "application/proto",
  "application/json",
  "application/connect+proto",
  "application/connect+json",
  "application/json; charset=utf-16",
  "text/plain",
  "application/grpc+bogus",
  "",
  "\u00ff",
];

/** A path, mostly one that is served. */
export const fuzzPath = (random: Random) => random.pick(random.chance(0.7) ? RPC_PATHS : FUZZ_PATHS);

/** A gRPC / Connect streaming envelope: flags, a 32-bit length (possibly a lie), the message. */
export function envelope(message: Uint8Array, flags = 0, length = message.length): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(length >>> 0, 1);
  return Buffer.concat([head, message]);
}

/** A body for a request: valid messages in several encodings, and broken ones. */
export function fuzzBody(random: Random, firmId: string): Buffer {
  const upsert = create(UpsertContactRequestSchema, {
    firmId,
    email: `fuzz${random.int(0, 20)}@example.com`,
    firstName: "Fuzz",
    lastName: "Test",
  });
  const proto = toBinary(UpsertContactRequestSchema, upsert);
  const json = JSON.stringify({ firmId, email: `fuzz${random.int(0, 20)}@example.com`, firstName: "F" });
  switch (random.int(0, 13)) {
    case 0:
      return Buffer.alloc(0);
    case 1:
      return envelope(proto);
    case 2:
      return envelope(new Uint8Array()); // an empty message: Health/Check's request
    case 3:
      return Buffer.from(proto);
    case 4:
      return Buffer.from(json);
    case 5:
      return envelope(Buffer.from(json));
    case 6:
      return envelope(random.bytes(random.int(0, 64)), 1); // "compressed" garbage
    case 7:
      return envelope(proto, 0, 0xffff_ffff); // declares 4 GiB
    case 8:
      return envelope(proto).subarray(0, random.int(1, proto.length + 4)); // cut inside the envelope
    case 9:
      return Buffer.from(`{"firmId":"${firmId}","requests":${"[".repeat(random.int(1, 5000))}`);
    case 10:
      return envelope(Buffer.from([0x3a, 0x01, 0x2a])); // reflection: list_services "*"
    case 11:
      return Buffer.concat([envelope(proto), envelope(proto, 0x80), envelope(random.bytes(8), 0x02)]);
    case 12:
      return Buffer.from([0xff, 0xfe, 0xfd, 0x7b, 0x22]);
    default:
      return random.bytes(random.int(1, 200));
  }
}

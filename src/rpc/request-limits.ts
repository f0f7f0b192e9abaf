import type { DescMethod } from "@bufbuild/protobuf";

const KiB = 1_024;

/**
 * The most bytes a request of each RPC may have (before and after decompression), by "package.Service/Method".
 * Sized to what the RPC needs, so that one RPC's generous limit is not everyone's: an upsert is a few hundred
 * bytes of fields with at most a few KiB of text; a batch of 1,000 upserts needs about a thousand times that.
 * Health and reflection requests are a service or symbol name.
 */
export const REQUEST_LIMITS: Readonly<Record<string, number>> = {
  "contacts.v1.ContactService/UpsertContact": 64 * KiB,
  "contacts.v1.ContactService/BatchUpsertContacts": 8 * 1_024 * KiB,
  "grpc.health.v1.Health/Check": 4 * KiB,
  "grpc.health.v1.Health/Watch": 4 * KiB,
  "grpc.health.v1.Health/List": 4 * KiB,
  "grpc.reflection.v1.ServerReflection/ServerReflectionInfo": 64 * KiB,
  "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": 64 * KiB,
};

/** A method's request limit: its entry in REQUEST_LIMITS, never more than `ceiling` (MAX_REQUEST_BYTES). */
export function requestLimit(ceiling: number): (method: DescMethod) => number {
  return (method) => Math.min(REQUEST_LIMITS[`${method.parent.typeName}/${method.name}`] ?? ceiling, ceiling);
}

import type { DescMethod } from "@bufbuild/protobuf";
import { BATCH_READ_MAX_BYTES } from "./batch-request-limit.js";

const KiB = 1_024;

/**
 * The most bytes a request of each RPC may have (before and after decompression), by "package.Service/Method".
 * Sized to what the RPC needs, so that one RPC's generous limit is not everyone's. The largest valid upsert is
 * about 11,900 characters over all its fields: 48 KB as UTF-8, but up to 12 bytes a character as JSON escapes
 * (`\ud83d\ude00`, which Python's json.dumps writes by default), so about 145 KB; 256 KiB admits every valid
 * upsert in any encoding. A batch carries many upserts. Health and reflection requests are a name.
 */
export const REQUEST_LIMITS: Readonly<Record<string, number>> = {
  "contacts.v1.ContactService/UpsertContact": 256 * KiB,
  // A thousand upserts with every field at its maximum length (about 46 MiB), derived from the field table.
  "contacts.v1.ContactService/BatchUpsertContacts": BATCH_READ_MAX_BYTES,
  // An update carries at most the fields of an upsert; get, delete and list name a contact or a page.
  // Assign and Unassign: up to 1000 ids of 64 characters per kind, each character up to 12 bytes as JSON escapes.
  "contacts.v1.ContactService/AssignContact": 2 * 1_024 * KiB,
  "contacts.v1.ContactService/UnassignContact": 2 * 1_024 * KiB,
  "contacts.v1.ContactService/UpdateContact": 256 * KiB,
  "contacts.v1.ContactService/GetContact": 8 * KiB,
  "contacts.v1.ContactService/DeleteContact": 8 * KiB,
  "contacts.v1.ContactService/ListContacts": 8 * KiB,
  "contacts.v1.ContactService/ListContactChanges": 8 * KiB,
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

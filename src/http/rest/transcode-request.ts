import { create, type DescField, type JsonObject, type JsonValue, ScalarType } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema } from "../../../gen-deps/google/rpc/error_details_pb.js";
import { protoEnumName, renameEnums } from "./enum-names.js";
import { type RestRoute, resolveFieldPath } from "./http-rules.js";

/** INVALID_ARGUMENT naming one field, with the google.rpc.BadRequest detail every other bad input carries. */
export function badRequest(field: string, description: string): ConnectError {
  return new ConnectError(`${field}: ${description}`, Code.InvalidArgument, undefined, [
    {
      desc: BadRequestSchema,
      value: create(BadRequestSchema, { fieldViolations: [{ field, description }] }),
    },
  ]);
}

// Query parameters a REST client or gateway may add that are not request fields (Google's own APIs accept them).
const IGNORED_QUERY = new Set(["$alt", "alt", "$prettyPrint", "prettyPrint"]);
const WELL_KNOWN_STRINGS = new Set([
  "google.protobuf.Timestamp",
  "google.protobuf.Duration",
  "google.protobuf.FieldMask",
]);

/**
 * The protobuf JSON of the request a REST call stands for, as gRPC transcoding defines it: the body (all of the
 * request, or the route's body field), each path variable (raw, percent-decoded here exactly once), and each
 * query parameter (by JSON or proto field path) when the body is not the whole request. Enum values may be in
 * the REST form or the proto form. Throws INVALID_ARGUMENT naming the field for a path value with "/" or bad
 * percent-encoding, a body field that contradicts the path, an unknown query parameter, or a body that is not a
 * JSON object. Unknown body fields are left for the Connect decoder, which refuses them as on Connect.
 */
export function transcodeRequest(
  route: RestRoute,
  rawPathValues: ReadonlyMap<string, string>,
  query: URLSearchParams,
  body: JsonValue | undefined,
): JsonObject {
  let request: JsonObject = {};
  if (route.body === "*") {
    request = objectBody(body, "the request body");
  } else if (route.bodyField) {
    request[route.bodyField.jsonName] = objectBody(body, route.bodyField.jsonName);
  }
  for (const [path, raw] of rawPathValues) {
    const fields = route.pathFields.get(path) as readonly DescField[];
    const name = fields.map((f) => f.jsonName).join(".");
    setBound(request, fields, name, decodePathValue(raw, name));
  }
  for (const key of new Set(query.keys())) {
    if (IGNORED_QUERY.has(key)) continue;
    const fields = route.body === "*" ? [] : resolveFieldPath(route.method.input, key);
    const last = fields.at(-1);
    const name = fields.map((f) => f.jsonName).join(".");
    const bound = [...route.pathFields.values()].some((p) => p.map((f) => f.jsonName).join(".") === name);
    if (!last || bound || fields[0] === route.bodyField || !queryable(last)) {
      throw badRequest(key.slice(0, 100), "unknown field");
    }
    const values = query.getAll(key).map((v) => queryValue(last, v));
    setBound(request, fields, name, last.fieldKind === "list" ? values : (values.at(-1) as JsonValue));
  }
  return renameEnums(route.method.input, request, protoEnumName) as JsonObject;
}

function objectBody(body: JsonValue | undefined, what: string): JsonObject {
  if (body === undefined) return {};
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ConnectError(`${what} must be a JSON object`, Code.InvalidArgument);
  }
  return body;
}

function decodePathValue(raw: string, name: string): string {
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    throw badRequest(name, "is not validly percent-encoded in the path");
  }
  if (value.includes("/")) throw badRequest(name, 'may not contain "/" in the path');
  return value;
}

/**
 * Sets a field path's value, naming the field when the body already holds another value there (by its JSON or
 * proto name): a firm in the path and another in the body is a mistake, not a choice of one.
 */
function setBound(request: JsonObject, fields: readonly DescField[], name: string, value: JsonValue): void {
  let target = request;
  for (const field of fields.slice(0, -1)) {
    const next = target[field.jsonName] ?? target[field.name];
    if (next !== undefined && (typeof next !== "object" || next === null || Array.isArray(next))) return;
    delete target[field.name];
    target[field.jsonName] = next ?? {};
    target = target[field.jsonName] as JsonObject;
  }
  const last = fields.at(-1) as DescField;
  for (const key of new Set([last.jsonName, last.name])) {
    const present = target[key];
    if (present !== undefined && present !== null && JSON.stringify(present) !== JSON.stringify(value)) {
      throw badRequest(name, "the body's value differs from the path's");
    }
    delete target[key];
  }
  target[last.jsonName] = value;
}

function queryable(field: DescField): boolean {
  if (field.fieldKind === "scalar" || field.fieldKind === "enum") return true;
  if (field.fieldKind === "list") return field.listKind !== "message";
  return field.fieldKind === "message" && WELL_KNOWN_STRINGS.has(field.message.typeName);
}

/** A query value as protobuf JSON: numbers stay strings (which protobuf JSON accepts), booleans become JSON's. */
function queryValue(field: DescField, value: string): JsonValue {
  const scalar = field.fieldKind === "scalar" || field.fieldKind === "list" ? field.scalar : undefined;
  if (scalar === ScalarType.BOOL) return value === "true" ? true : value === "false" ? false : value;
  return value;
}

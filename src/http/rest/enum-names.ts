import type { DescEnum, DescField, DescMessage, JsonObject, JsonValue } from "@bufbuild/protobuf";

/**
 * An enum value as the REST routes write it: the proto name without the enum's shared prefix, in lower case
 * (UPSERT_RESULT_CREATED is "created", MATCH_KEY_TRACKING_ID is "tracking_id"), as the API reference does.
 */
export function restEnumName(desc: DescEnum, protoName: string): string {
  const prefix = desc.sharedPrefix ?? "";
  return protoName.toLowerCase().startsWith(prefix)
    ? protoName.slice(prefix.length).toLowerCase()
    : protoName;
}

/** The proto name of an enum value given in the REST form or the proto form; other input as it is. */
export function protoEnumName(desc: DescEnum, value: JsonValue): JsonValue {
  if (typeof value !== "string") return value;
  const found = desc.values.find((v) => v.name === value || restEnumName(desc, v.name) === value);
  return found ? found.name : value;
}

// Messages whose JSON form is a string or a value of its own, with no enum inside (Any is written with its packed
// message's fields, whose type this walk does not know: its enums are left in proto form).
const OPAQUE = new Set([
  "google.protobuf.Any",
  "google.protobuf.Struct",
  "google.protobuf.Value",
  "google.protobuf.ListValue",
  "google.protobuf.Timestamp",
  "google.protobuf.Duration",
  "google.protobuf.FieldMask",
]);

/**
 * Rewrites every enum value of a message's protobuf JSON with `rename`, walking the JSON by the descriptor:
 * keys by JSON name or proto name, lists, maps and nested messages. The JSON is changed in place and returned.
 */
export function renameEnums(
  desc: DescMessage,
  json: JsonValue,
  rename: (desc: DescEnum, value: JsonValue) => JsonValue,
): JsonValue {
  if (json === null || typeof json !== "object" || Array.isArray(json) || OPAQUE.has(desc.typeName))
    return json;
  const object = json as JsonObject;
  for (const [key, value] of Object.entries(object)) {
    const field = desc.fields.find((f) => f.jsonName === key || f.name === key);
    if (field && value !== null) object[key] = renameField(field, value, rename);
  }
  return object;
}

function renameField(
  field: DescField,
  value: JsonValue,
  rename: (desc: DescEnum, value: JsonValue) => JsonValue,
): JsonValue {
  const one = (v: JsonValue): JsonValue => {
    if (field.enum) return rename(field.enum, v);
    if (field.message) return renameEnums(field.message, v, rename);
    return v;
  };
  switch (field.fieldKind) {
    case "enum":
    case "message":
      return one(value);
    case "list":
      return Array.isArray(value) ? value.map(one) : value;
    case "map":
      if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
      for (const [k, v] of Object.entries(value)) (value as JsonObject)[k] = one(v as JsonValue);
      return value;
    default:
      return value;
  }
}

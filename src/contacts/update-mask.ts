import type { FieldViolation } from "./contact.js";
import { DATA_FIELDS, type DataField } from "./fields.js";

/** The contact fields UpdateContact may change, by JSON name. */
export type UpdatableField = "email" | "trackingId" | DataField;
export const UPDATABLE_FIELDS: readonly UpdatableField[] = ["email", "trackingId", ...DATA_FIELDS];

// Contact fields the server owns: naming them in a mask is a mistake worth its own message.
const OUTPUT_ONLY = new Set([
  "id",
  "firmId",
  "createTime",
  "updateTime",
  "clientIds",
  "investmentEntityIds",
  "deleteTime",
]);

export type MaskParse =
  | { readonly kind: "valid"; readonly fields: readonly UpdatableField[] }
  | { readonly kind: "invalid"; readonly violations: readonly FieldViolation[] };

/**
 * Reads an update mask's paths (proto names like `first_name` or JSON names like `firstName`) into the fields
 * to change, in field-table order, duplicates collapsed. A missing or empty mask, or an unknown or output-only
 * path, is a violation naming `updateMask`.
 */
export function parseUpdateMask(paths: readonly string[] | undefined): MaskParse {
  if (paths === undefined || paths.length === 0) {
    return invalid("is required: name the fields to change, for example firstName,email");
  }
  const named = new Set<string>();
  const violations: FieldViolation[] = [];
  for (const path of paths) {
    const name = jsonName(path.trim());
    if ((UPDATABLE_FIELDS as readonly string[]).includes(name)) named.add(name);
    else if (OUTPUT_ONLY.has(name))
      violations.push(...invalid(`${JSON.stringify(path)} is output only`).violations);
    else violations.push(...invalid(`${JSON.stringify(path)} is not a field of Contact`).violations);
  }
  if (violations.length > 0) return { kind: "invalid", violations };
  return { kind: "valid", fields: UPDATABLE_FIELDS.filter((field) => named.has(field)) };
}

function invalid(description: string): { kind: "invalid"; violations: FieldViolation[] } {
  return { kind: "invalid", violations: [{ field: "updateMask", description }] };
}

/** `first_name` -> `firstName`; a JSON name is left as it is. */
function jsonName(path: string): string {
  return path.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

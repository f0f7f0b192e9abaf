import type { FieldViolation, UpsertInput } from "./contact.js";
import { emailProblem } from "./email.js";
import { DATA_FIELDS, MAX_LENGTH, MULTILINE_FIELDS, REQUIRED_FIELDS, type RequestField } from "./fields.js";

/** The string fields of an upsert as they arrive: absent fields are undefined. */
export type RawUpsertRequest = { readonly firmId: string } & {
  readonly [K in Exclude<RequestField, "firmId">]?: string | undefined;
} & {
  /** validate_only: answer what the call would do, write nothing. */
  readonly validateOnly?: boolean | undefined;
  /**
   * request_id as sent. A single call takes it from its Actor (src/contacts/request-ids.ts); here it matters
   * only for a batch item, which must not set it.
   */
  readonly requestId?: string | undefined;
};

export type UpsertValidation =
  | { readonly kind: "valid"; readonly input: UpsertInput }
  | { readonly kind: "invalid"; readonly violations: readonly FieldViolation[] };

/** The violations of a request that has neither match key. */
export const MISSING_MATCH_KEY: readonly FieldViolation[] = [
  { field: "trackingId", description: "is required when email is absent" },
  { field: "email", description: "is required when trackingId is absent" },
];

/** Fields that must not be empty whenever they are present. */
const NEVER_EMPTY: ReadonlySet<RequestField> = new Set(["firmId", "trackingId", "email", ...REQUIRED_FIELDS]);

// C0 and C1 controls (NUL included) and the Unicode line and paragraph separators, which are not in Cc; tabs
// and line breaks are allowed where a field is multi-line.
/** C0 and C1 controls and the Unicode line and paragraph separators. */
export const CONTROL = /[\p{Cc}\u2028\u2029]/u;
const CONTROL_EXCEPT_LINE_BREAKS = /[^\P{Cc}\t\n\r]/u;

/**
 * Trims every string and checks it against the field table, collecting every problem rather than the first.
 * Pure and total: any input gets either a trimmed input or the list of violations.
 */
export function validateUpsert(raw: RawUpsertRequest): UpsertValidation {
  const violations: FieldViolation[] = [];
  const out: Record<string, string | undefined> = {};
  const fields: readonly RequestField[] = ["firmId", "trackingId", "email", ...DATA_FIELDS];
  for (const field of fields) {
    const value = raw[field];
    if (value === undefined) continue;
    const trimmed = value.trim();
    const problem = stringProblem(field, trimmed);
    if (problem) violations.push({ field, description: problem });
    out[field] = trimmed;
  }
  if (out.trackingId === undefined && out.email === undefined) {
    violations.push(...MISSING_MATCH_KEY);
  }
  if (violations.length > 0) return { kind: "invalid", violations };
  return { kind: "valid", input: out as UpsertInput };
}

/**
 * The problem with one trimmed field value under the field table (emptiness, Unicode, control characters,
 * length, email syntax), or undefined. Shared by every use case that takes contact fields.
 */
export function stringProblem(field: RequestField, value: string): string | undefined {
  if (value === "") {
    if (field === "firmId") return "is required";
    return NEVER_EMPTY.has(field) ? "must not be empty" : undefined;
  }
  // Lone surrogates cannot be stored as UTF-8: they would come back changed.
  if (!value.isWellFormed()) return "is not valid Unicode text";
  if ((MULTILINE_FIELDS.has(field) ? CONTROL_EXCEPT_LINE_BREAKS : CONTROL).test(value)) {
    return MULTILINE_FIELDS.has(field)
      ? "must not contain control characters other than tabs and line breaks"
      : "must not contain control characters or line breaks";
  }
  const max = MAX_LENGTH[field];
  if (value.length > max && codePoints(value) > max) return `must be at most ${max} characters`;
  if (field === "email") return emailProblem(value);
  return undefined;
}

/**
 * Trims and checks the firm id and contact id that name one contact, appending a violation for each problem; the
 * id is named as the request names it (`contactId`, or GetContact's and DeleteContact's `id`).
 */
export function contactRef(
  raw: { readonly firmId: string; readonly contactId: string },
  violations: FieldViolation[],
  idField = "contactId",
): { readonly firmId: string; readonly contactId: string } {
  const firmId = raw.firmId.trim();
  const firmProblem = stringProblem("firmId", firmId);
  if (firmProblem) violations.push({ field: "firmId", description: firmProblem });
  const contactId = raw.contactId.trim();
  if (contactId === "") violations.push({ field: idField, description: "is required" });
  return { firmId, contactId };
}

/** The length of a string in Unicode code points. */
export function codePoints(value: string): number {
  let n = 0;
  for (const _ of value) n++;
  return n;
}

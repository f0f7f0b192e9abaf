import type { Contact, FieldViolation } from "./contact.js";
import { REQUIRED_FIELDS } from "./fields.js";
import { parseUpdateMask, type UpdatableField } from "./update-mask.js";
import { stringProblem } from "./validate-upsert.js";

/** UpdateContact's request as it arrives: `paths` undefined when the mask is absent, unset fields undefined. */
export interface RawUpdateRequest {
  readonly firmId: string;
  /** contact.id; undefined when the request has no contact. */
  readonly id: string | undefined;
  readonly paths: readonly string[] | undefined;
  readonly values: { readonly [K in UpdatableField]?: string | undefined };
}

/** A validated update: the contact to change and each masked field's new value (null clears it). */
export interface UpdateInput {
  readonly firmId: string;
  readonly id: string;
  readonly changes: { readonly [K in UpdatableField]?: string | null };
}

export type UpdateValidation =
  | { readonly kind: "valid"; readonly input: UpdateInput }
  | { readonly kind: "invalid"; readonly violations: readonly FieldViolation[] };

// Fields a contact cannot lack: a masked empty value is a mistake, not a clear.
const NEVER_CLEARED: ReadonlySet<UpdatableField> = new Set(["email", ...REQUIRED_FIELDS]);

/**
 * Checks an update: firm and id present, a valid mask, and each masked value trimmed and checked with the same
 * per-field rules as an upsert. A masked optional field (tracking id included) that is unset or empty is
 * cleared; a masked email, first or last name must not be. Violations name JSON paths (`contact.email`).
 */
export function validateUpdate(raw: RawUpdateRequest): UpdateValidation {
  const violations: FieldViolation[] = [];
  const firmId = raw.firmId.trim();
  const firmProblem = stringProblem("firmId", firmId);
  if (firmProblem) violations.push({ field: "firmId", description: firmProblem });
  const id = raw.id?.trim() ?? "";
  if (id === "") violations.push({ field: "contact.id", description: "is required" });
  const mask = parseUpdateMask(raw.paths);
  if (mask.kind === "invalid") violations.push(...mask.violations);
  const changes: Record<string, string | null> = {};
  for (const field of mask.kind === "valid" ? mask.fields : []) {
    const value = raw.values[field]?.trim() ?? "";
    if (value === "") {
      if (NEVER_CLEARED.has(field))
        violations.push({ field: `contact.${field}`, description: "must not be empty" });
      else changes[field] = null;
      continue;
    }
    const problem = stringProblem(field, value);
    if (problem) violations.push({ field: `contact.${field}`, description: problem });
    changes[field] = value;
  }
  if (violations.length > 0) return { kind: "invalid", violations };
  return { kind: "valid", input: { firmId, id, changes } };
}

/** The result of applying an update to a stored contact. */
export interface AppliedUpdate {
  readonly contact: Contact;
  /** The fields whose stored value changed, in field-table order; empty when the update changed nothing. */
  readonly changed: readonly UpdatableField[];
}

/**
 * Applies the masked values to a stored contact. A value equal to the stored one is no change (so a repeated
 * update changes nothing and writes nothing); an email differing only in letter case is a change of its
 * spelling. The update time is the caller's to stamp.
 */
export function applyUpdate(stored: Contact, changes: UpdateInput["changes"]): AppliedUpdate {
  const next: Record<string, unknown> = { ...stored };
  const changed: UpdatableField[] = [];
  for (const [field, value] of Object.entries(changes) as [UpdatableField, string | null][]) {
    if (value === stored[field]) continue;
    next[field] = value;
    changed.push(field);
  }
  return { contact: next as Contact, changed };
}

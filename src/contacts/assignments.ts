import type { Contact, FieldViolation } from "./contact.js";
import { CONTROL, codePoints, contactRef } from "./validate-upsert.js";

/** Longest assignment id, in code points. */
export const ASSIGNMENT_ID_MAX_LENGTH = 64;
/** Most ids of one kind a contact may hold. */
export const MAX_ASSIGNMENTS_PER_KIND = 1000;

/** The two kinds of assignment, by the Contact field that lists them. */
export const ASSIGNMENT_KINDS = ["clientIds", "investmentEntityIds"] as const;
export type AssignmentKind = (typeof ASSIGNMENT_KINDS)[number];

type IdsByKind = { readonly [K in AssignmentKind]: readonly string[] };

/** AssignContact's or UnassignContact's request as it arrives. */
export type RawAssignmentRequest = { readonly firmId: string; readonly contactId: string } & IdsByKind;

/** A validated request: trimmed, distinct ids of each kind, sorted. */
export type AssignmentInput = { readonly firmId: string; readonly contactId: string } & IdsByKind;

export type AssignmentValidation =
  | { readonly kind: "valid"; readonly input: AssignmentInput }
  | { readonly kind: "invalid"; readonly violations: readonly FieldViolation[] };

/**
 * Trims every id and checks it (1 to 64 characters, well-formed, no control characters), naming each bad one
 * by its index (`clientIds[2]`). Duplicates in a request collapse.
 */
export function validateAssignment(raw: RawAssignmentRequest): AssignmentValidation {
  const violations: FieldViolation[] = [];
  const { firmId, contactId } = contactRef(raw, violations);
  const ids: Record<string, string[]> = {};
  for (const kind of ASSIGNMENT_KINDS) {
    const trimmed = raw[kind].map((id) => id.trim());
    trimmed.forEach((id, index) => {
      const problem = idProblem(id);
      if (problem) violations.push({ field: `${kind}[${index}]`, description: problem });
    });
    ids[kind] = sortedDistinct(trimmed);
  }
  if (violations.length > 0) return { kind: "invalid", violations };
  return { kind: "valid", input: { firmId, contactId, ...(ids as unknown as IdsByKind) } };
}

function idProblem(id: string): string | undefined {
  if (id === "") return "must not be empty";
  if (!id.isWellFormed()) return "is not valid Unicode text";
  if (CONTROL.test(id)) return "must not contain control characters or line breaks";
  if (codePoints(id) > ASSIGNMENT_ID_MAX_LENGTH)
    return `must be at most ${ASSIGNMENT_ID_MAX_LENGTH} characters`;
  return undefined;
}

/** Ids to insert and delete, per kind. */
export type AssignmentChange = { readonly add: IdsByKind; readonly remove: IdsByKind };

export type AssignmentDecision =
  | { readonly kind: "unchanged" }
  | { readonly kind: "change"; readonly change: AssignmentChange; readonly contact: Contact }
  | { readonly kind: "over_limit"; readonly field: AssignmentKind; readonly count: number };

/**
 * What an assign or unassign does to a stored contact: the ids not yet there (or those there, to remove), the
 * contact's lists after it, or over_limit when a kind would exceed MAX_ASSIGNMENTS_PER_KIND. Assigning what is
 * there, or removing what is absent, is unchanged. The update time is the caller's to stamp.
 */
export function decideAssignment(
  stored: Contact,
  input: AssignmentInput,
  operation: "assign" | "unassign",
): AssignmentDecision {
  const add: Record<string, string[]> = {};
  const remove: Record<string, string[]> = {};
  const next: Record<string, unknown> = { ...stored };
  let changed = false;
  for (const kind of ASSIGNMENT_KINDS) {
    const held = new Set(stored[kind]);
    add[kind] = operation === "assign" ? input[kind].filter((id) => !held.has(id)) : [];
    remove[kind] = operation === "unassign" ? input[kind].filter((id) => held.has(id)) : [];
    const dropped = new Set(remove[kind]);
    const after = sortedDistinct([...stored[kind].filter((id) => !dropped.has(id)), ...(add[kind] ?? [])]);
    if (after.length > MAX_ASSIGNMENTS_PER_KIND)
      return { kind: "over_limit", field: kind, count: after.length };
    if ((add[kind]?.length ?? 0) + (remove[kind]?.length ?? 0) > 0) changed = true;
    next[kind] = after;
  }
  if (!changed) return { kind: "unchanged" };
  return {
    kind: "change",
    change: { add: add as unknown as IdsByKind, remove: remove as unknown as IdsByKind },
    contact: next as Contact,
  };
}

/** Distinct ids in code-point order, the order the database's binary collation sorts them in. */
export function sortedDistinct(ids: readonly string[]): string[] {
  return [...new Set(ids)].sort(compareCodePoints);
}

/** Compares by Unicode code point (UTF-16 code units order astral characters before U+E000..U+FFFF). */
export function compareCodePoints(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

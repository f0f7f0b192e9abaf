import type { Contact, UpsertInput } from "./contact.js";
import { REQUIRED_FIELDS } from "./fields.js";

/** Which key located the contact an upsert updates. */
export type MatchKey = "trackingId" | "email";

/** The stored contacts an upsert's keys point at, read in the same transaction. */
export interface UpsertCandidates {
  /** The firm's contact with the request's tracking id, if the request has one and it exists. */
  readonly byTrackingId: Contact | null;
  /** The firm's contact whose email equals the request's, ignoring letter case, if any. */
  readonly byEmail: Contact | null;
}

/** Why an upsert cannot proceed. */
export type UpsertRejection =
  | { readonly reason: "missing_match_key" }
  | { readonly reason: "missing_required"; readonly fields: readonly string[] }
  | { readonly reason: "email_taken"; readonly contactId: string };

export type UpsertDecision =
  | { readonly kind: "create" }
  | { readonly kind: "update"; readonly contact: Contact; readonly matchedBy: MatchKey }
  | ({ readonly kind: "reject" } & UpsertRejection);

/**
 * The match rule of UpsertContact, as one pure function: the tracking id locates the contact when present (the
 * email is then not cross-checked); otherwise the email does. An unknown tracking id creates a contact unless
 * its email already belongs to another one.
 */
export function decideUpsert(input: UpsertInput, candidates: UpsertCandidates): UpsertDecision {
  if (input.trackingId !== undefined) {
    if (candidates.byTrackingId) {
      return { kind: "update", contact: candidates.byTrackingId, matchedBy: "trackingId" };
    }
    if (candidates.byEmail)
      return { kind: "reject", reason: "email_taken", contactId: candidates.byEmail.id };
    return createOrReject(input);
  }
  if (input.email === undefined) return { kind: "reject", reason: "missing_match_key" };
  if (candidates.byEmail) return { kind: "update", contact: candidates.byEmail, matchedBy: "email" };
  return createOrReject(input);
}

function createOrReject(input: UpsertInput): UpsertDecision {
  const missing = (["email", ...REQUIRED_FIELDS] as const).filter((field) => input[field] === undefined);
  return missing.length > 0
    ? { kind: "reject", reason: "missing_required", fields: missing }
    : { kind: "create" };
}

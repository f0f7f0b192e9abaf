import type { OptionalField } from "./fields.js";

/** A contact as stored. Absent optional values are null. */
export type Contact = {
  readonly id: string;
  readonly firmId: string;
  readonly trackingId: string | null;
  readonly email: string;
  readonly firstName: string;
  readonly lastName: string;
  readonly createTime: Date;
  readonly updateTime: Date;
  /** The client ids assigned to the contact, sorted by code point, without duplicates. */
  readonly clientIds: readonly string[];
  /** The investment-entity ids assigned to the contact, sorted by code point, without duplicates. */
  readonly investmentEntityIds: readonly string[];
} & { readonly [K in OptionalField]: string | null };

/** A contact as ListContacts returns it: live (deleteTime null) or deleted. */
export type ListedContact = Contact & { readonly deleteTime: Date | null };

/**
 * The time a contact is built with before its transaction commits; the use case replaces it with the commit's
 * tick (see stampTimes), so every time a client sees is the stored one.
 */
export const UNSTAMPED = new Date(0);

/** The contact with the commit's tick as its update time, and as its create time too when it was just created. */
export function stampTimes(contact: Contact, tick: Date, created: boolean): Contact {
  return created ? { ...contact, createTime: tick, updateTime: tick } : { ...contact, updateTime: tick };
}

/**
 * A validated, trimmed upsert request. `undefined` means the caller omitted the field; for optional fields an
 * empty string means "clear it". Required fields and keys are never empty here.
 */
export type UpsertInput = {
  readonly firmId: string;
  readonly trackingId?: string | undefined;
  readonly email?: string | undefined;
  readonly firstName?: string | undefined;
  readonly lastName?: string | undefined;
} & { readonly [K in OptionalField]?: string | undefined };

/** One problem with one request field, named by its JSON name. */
export interface FieldViolation {
  readonly field: string;
  readonly description: string;
}

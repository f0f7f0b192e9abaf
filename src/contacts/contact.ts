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
} & { readonly [K in OptionalField]: string | null };

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

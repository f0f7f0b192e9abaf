/**
 * The contact fields an upsert writes, with their limits. One table serves validation, merging, storage and
 * the proto conversion, so a field's rules live in one place.
 */

/** Fields every contact has; required to create, never cleared. */
export const REQUIRED_FIELDS = ["firstName", "lastName"] as const;

/** Fields a contact may lack; an empty value in an upsert clears them. */
export const OPTIONAL_FIELDS = [
  "phone",
  "company",
  "title",
  "country",
  "numberAndStreet",
  "city",
  "state",
  "zipCode",
  "prefix",
  "suffix",
  "note",
] as const;

export type RequiredField = (typeof REQUIRED_FIELDS)[number];
export type OptionalField = (typeof OPTIONAL_FIELDS)[number];
/** Fields an upsert may change on an existing contact (the email and tracking id are keys, not data). */
export type DataField = RequiredField | OptionalField;
export const DATA_FIELDS: readonly DataField[] = [...REQUIRED_FIELDS, ...OPTIONAL_FIELDS];

/** Every string field of UpsertContactRequest, by its JSON name. */
export type RequestField = "firmId" | "trackingId" | "email" | DataField;

/**
 * Maximum length of each field in Unicode code points. The database columns are sized from this table
 * (VARCHAR counts characters, which for utf8mb4 are code points), so nothing is ever truncated.
 */
export const MAX_LENGTH: Readonly<Record<RequestField, number>> = Object.freeze({
  firmId: 64,
  trackingId: 128,
  email: 254,
  firstName: 200,
  lastName: 200,
  phone: 50,
  company: 200,
  title: 200,
  country: 100,
  numberAndStreet: 200,
  city: 100,
  state: 100,
  zipCode: 20,
  prefix: 20,
  suffix: 20,
  note: 10_000,
});

/** Fields that may hold line breaks and tabs; every other field is a single line. */
export const MULTILINE_FIELDS: ReadonlySet<RequestField> = new Set(["note"]);

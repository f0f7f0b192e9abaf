import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import type {
  UpsertContactRequest,
  UpsertContactRequestSchema,
} from "../../gen/contacts/v1/contact_service_pb.js";
import { BadRequestSchema } from "../../gen-deps/google/rpc/error_details_pb.js";

/**
 * The request fields, by their JSON names (the names the server's field violations use); the call options
 * (validateOnly, requestId) are not form inputs.
 */
export type FieldName = Exclude<
  keyof UpsertContactRequest,
  "$typeName" | "$unknown" | "validateOnly" | "requestId"
>;

/** How the form shows one request field. */
export interface FieldSpec {
  readonly label: string;
  readonly group: string;
  readonly hint?: string;
  readonly input?: "email" | "tel" | "textarea";
  readonly required?: boolean;
}

/** Every UpsertContactRequest field in display order; the Record type makes a field missing here an error. */
export const FIELDS: Readonly<Record<FieldName, FieldSpec>> = {
  firmId: { label: "Firm ID", group: "Match", required: true, hint: "Required. The contact book to write." },
  trackingId: { label: "Tracking ID", group: "Match", hint: "Matches first; a new one creates a contact." },
  email: {
    label: "Email",
    group: "Match",
    input: "email",
    hint: "Required to create. Matches when there is no tracking ID; never changed on update.",
  },
  prefix: { label: "Prefix", group: "Name" },
  firstName: { label: "First name", group: "Name", hint: "Required to create." },
  lastName: { label: "Last name", group: "Name", hint: "Required to create." },
  suffix: { label: "Suffix", group: "Name" },
  company: { label: "Company", group: "Work" },
  title: { label: "Title", group: "Work" },
  phone: { label: "Phone", group: "Work", input: "tel" },
  numberAndStreet: { label: "Number and street", group: "Address" },
  city: { label: "City", group: "Address" },
  state: { label: "State", group: "Address" },
  zipCode: { label: "Zip code", group: "Address" },
  country: { label: "Country", group: "Address" },
  note: { label: "Note", group: "Other", input: "textarea", hint: "May span several lines." },
};

/** The field names in display order. */
export const FIELD_NAMES = Object.keys(FIELDS) as FieldName[];

export function isFieldName(name: string): name is FieldName {
  return Object.hasOwn(FIELDS, name);
}

export type UpsertInit = MessageInitShape<typeof UpsertContactRequestSchema>;

/**
 * The request for the form's values. An input that is empty (or only whitespace, which the server would trim to
 * empty) is left out of the request, which on update means "unchanged", never sent as "".
 */
export function toRequest(values: Readonly<Record<FieldName, string>>): UpsertInit {
  const request: Partial<Record<FieldName, string>> = {};
  for (const name of FIELD_NAMES) {
    if (values[name].trim() !== "") request[name] = values[name];
  }
  return request;
}

/** Field errors from an INVALID_ARGUMENT's google.rpc.BadRequest detail, plus those naming no form field. */
export interface FieldErrors {
  readonly byField: ReadonlyMap<FieldName, readonly string[]>;
  readonly other: readonly string[];
}

export function fieldErrors(error: ConnectError): FieldErrors {
  const byField = new Map<FieldName, string[]>();
  const other: string[] = [];
  for (const detail of error.findDetails(BadRequestSchema)) {
    for (const { field, description } of detail.fieldViolations) {
      if (isFieldName(field)) byField.set(field, [...(byField.get(field) ?? []), description]);
      else other.push(field ? `${field}: ${description}` : description);
    }
  }
  return { byField, other };
}

/** The default API address, where `npm start` listens. */
export const DEFAULT_API_URL = "http://127.0.0.1:8080";

/** The API base URL from the page's `?api=` parameter, or the default; an Error if it is not an http(s) URL. */
export function apiUrlFrom(search: string): string | Error {
  const raw = new URLSearchParams(search).get("api")?.trim() || DEFAULT_API_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return new Error(`?api=${raw} is not a URL; use for example ?api=${DEFAULT_API_URL}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return new Error(`?api=${raw} must be an http: or https: URL`);
  }
  return url.href.replace(/\/+$/, "");
}

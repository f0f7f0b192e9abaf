import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectError } from "@connectrpc/connect";
import type { Contact } from "../../gen/contacts/v1/contact_pb.js";
import {
  ChangeKind,
  type ContactChange,
  MatchKey,
  type UpsertContactResponse,
  UpsertResult,
} from "../../gen/contacts/v1/contact_service_pb.js";
import { ErrorInfoSchema } from "../../gen-deps/google/rpc/error_details_pb.js";
import { FIELDS, isFieldName } from "./upsert-form.js";

// The page's words: what an operator reads. Codes, ids and the API's field names go to technical details only.

/** A field's label from its proto name (`first_name`) or JSON name (`firstName`). */
export function fieldLabel(name: string): string {
  const json = name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  if (json === "clientIds") return "Clients";
  if (json === "investmentEntityIds") return "Investment entities";
  return isFieldName(json) ? FIELDS[json].label : name;
}

/** A contact's name as a person would say it, with the email when there is no name. */
export function displayName(contact: Pick<Contact, "firstName" | "lastName" | "email">): string {
  const name = `${contact.firstName} ${contact.lastName}`.trim();
  return name || contact.email;
}

/** What to say about an error, in plain words, and the technical detail behind a disclosure. */
export interface Explained {
  readonly kind: "offline" | "key" | "forbidden" | "busy" | "conflict" | "invalid" | "gone" | "other";
  readonly sentence: string;
  readonly detail: string;
}

/** Explains a failed call: `doing` is what the user was doing, in words ("save the contact"). */
export function explain(error: ConnectError, doing: string): Explained {
  const detail = `${Code[error.code] ?? error.code}: ${error.rawMessage}`;
  switch (error.code) {
    case Code.Unknown:
    case Code.Unavailable:
      return {
        kind: "offline",
        sentence: `Could not ${doing}: the contacts service cannot be reached right now. Check your connection and try again.`,
        detail,
      };
    case Code.Unauthenticated:
      return {
        kind: "key",
        sentence: "The contacts service did not accept your access key. Enter a valid key under Change firm.",
        detail,
      };
    case Code.PermissionDenied:
      return { kind: "forbidden", sentence: `Your access key may not ${doing} in this firm.`, detail };
    case Code.ResourceExhausted:
      return {
        kind: "busy",
        sentence: `The contacts service is busy and could not ${doing}. Try again in a moment.`,
        detail,
      };
    case Code.AlreadyExists:
      return { kind: "conflict", sentence: "Another contact of this firm already has this value.", detail };
    case Code.NotFound:
      return {
        kind: "gone",
        sentence: "This contact no longer exists: someone may have deleted it.",
        detail,
      };
    case Code.InvalidArgument:
      return { kind: "invalid", sentence: `Could not ${doing}: please check the marked fields.`, detail };
    case Code.DeadlineExceeded:
      return {
        kind: "offline",
        sentence: `Could not ${doing}: the service took too long to answer.`,
        detail,
      };
    default:
      return {
        kind: "other",
        sentence: `Could not ${doing}: something went wrong in the contacts service. Try again.`,
        detail,
      };
  }
}

/** The field and holder of an ALREADY_EXISTS conflict (google.rpc.ErrorInfo), when the service names them. */
export function conflictOf(
  error: ConnectError,
): { field: string; contactId: string | undefined } | undefined {
  if (error.code !== Code.AlreadyExists) return undefined;
  for (const info of error.findDetails(ErrorInfoSchema)) {
    // UpdateContact names the field under its request path (contact.email).
    const field = (info.metadata.field ?? "email").replace(/^contact\./, "");
    return { field, contactId: info.metadata.contactId };
  }
  return { field: "email", contactId: undefined };
}

const list = (names: readonly string[]) =>
  names.length <= 1 ? (names[0] ?? "") : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;

/** The result of a save from the New contact form, in plain words. */
export function upsertSentence(response: UpsertContactResponse): string {
  const who = response.contact ? displayName(response.contact) : "the contact";
  if (response.result === UpsertResult.CREATED) return `Created ${who}.`;
  const by = response.matchedBy === MatchKey.TRACKING_ID ? "its tracking ID" : "its email";
  const changed = (response.changedFields?.paths ?? []).map((p) => fieldLabel(p).toLowerCase());
  if (changed.length === 0) return `${who} already exists (found by ${by}); nothing needed changing.`;
  return `${who} already exists (found by ${by}): changed ${list(changed)}.`;
}

const KIND_WORDS: Partial<Record<ChangeKind, string>> = {
  [ChangeKind.CREATED]: "Created",
  [ChangeKind.UPDATED]: "Changed",
  [ChangeKind.DELETED]: "Deleted",
  [ChangeKind.ASSIGNED]: "Assigned",
  [ChangeKind.UNASSIGNED]: "Unassigned",
};

/** One history entry's lines: what changed, from what to what. */
export function changeLines(change: ContactChange): string[] {
  if (change.kind === ChangeKind.DELETED) return ["Deleted the contact"];
  return change.fields.map((field) => {
    const label = fieldLabel(field.field);
    const before = field.oldValue;
    const after = field.newValue;
    if (field.field === "client_ids" || field.field === "investment_entity_ids") {
      return after !== undefined ? `${label}: added ${after}` : `${label}: removed ${before ?? ""}`;
    }
    if (before === undefined) return `${label} set to “${after ?? ""}”`;
    if (after === undefined) return `${label} cleared (was “${before}”)`;
    return `${label} changed from “${before}” to “${after}”`;
  });
}

/** The heading of a history entry: kind, who, when (in the browser's locale and zone). */
export function changeHeading(change: ContactChange, format: (date: Date) => string): string {
  const when = change.changeTime ? format(timestampDate(change.changeTime)) : "";
  return `${KIND_WORDS[change.kind] ?? "Changed"} by ${change.principal} · ${when}`;
}

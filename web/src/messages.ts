import { Code, type ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen-deps/google/rpc/error_details_pb.js";
import { FIELD_NAMES, FIELDS, type FieldName, isFieldName } from "./upsert-form.js";

// The service words its field violations for API callers: "is required when trackingId is absent". The page
// says the same with the labels the user sees: "Email is required when Tracking ID is empty".
const API_NAME = new RegExp(`\\b(${FIELD_NAMES.join("|")})\\b`, "g");

/** A violation's description in the form's words: field names become their labels, "absent" becomes "empty". */
export function inFormWords(description: string): string {
  return description
    .replace(API_NAME, (name) => (isFieldName(name) ? FIELDS[name].label : name))
    .replace(/\babsent\b/g, "empty");
}

/** The sentence shown under a field for one violation of it. */
export function fieldMessage(field: FieldName, description: string): string {
  const words = inFormWords(description);
  // "is required", "must look like ..." read as a sentence about the field; others ("the domain must ...") stand
  // alone under it.
  return /^(is|must)\b/.test(words) ? `${FIELDS[field].label} ${words}.` : `${capitalize(words)}.`;
}

/** A conflict the service reports with google.rpc.ErrorInfo: which field, and the contact that holds the value. */
export interface Conflict {
  readonly field: FieldName;
  readonly contactId: string | undefined;
}

/** The conflict in an ALREADY_EXISTS error, if it names a form field. */
export function conflictOf(error: ConnectError): Conflict | undefined {
  if (error.code !== Code.AlreadyExists) return undefined;
  for (const info of error.findDetails(ErrorInfoSchema)) {
    const field = info.metadata.field ?? "email";
    if (isFieldName(field)) return { field, contactId: info.metadata.contactId };
  }
  return undefined;
}

/** What the page knows when it explains an error that is not about one field. */
export interface ErrorContext {
  readonly apiUrl: string;
  readonly pageOrigin: string;
  readonly firmId: string;
  readonly sentKey: boolean;
}

/** A plain sentence for an error that is not about one field, saying what happened and what to do. */
export function errorSentence(error: ConnectError, context: ErrorContext): string {
  switch (error.code) {
    case Code.Unknown:
      // A server that is down, unreachable or refuses the page's origin (CORS) all surface as a failed fetch.
      return `The contacts service at ${context.apiUrl} could not be reached. Check that it is running and that its CORS_ORIGINS setting lists ${context.pageOrigin}.`;
    case Code.Unauthenticated:
      return context.sentKey
        ? "The contacts service did not accept this API key. Check the key under Access."
        : "The contacts service needs an API key. Enter one under Access.";
    case Code.PermissionDenied:
      return `This API key may not save contacts of firm “${context.firmId}”. Nothing was saved.`;
    case Code.AlreadyExists:
      return "This email already belongs to another contact of this firm. Nothing was saved.";
    case Code.Aborted:
      return "Someone else was changing this contact at the same moment. Nothing was saved; save again.";
    case Code.Unavailable:
      return "The contacts service cannot reach its database right now. Try again in a moment.";
    case Code.DeadlineExceeded:
      return "The contacts service took too long to answer. Try again in a moment.";
    case Code.Canceled:
      return "Saving was cancelled.";
    case Code.ResourceExhausted:
      return "This contact is too large to save. Shorten the note or another long field.";
    case Code.InvalidArgument:
      return error.rawMessage
        ? `The contact was not saved: ${inFormWords(error.rawMessage)}.`
        : "The contact was not saved.";
    default:
      return "Something went wrong in the contacts service. Try again, and if it keeps happening tell the service's operator.";
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** What the page knows when it explains an error of a lookup or a listing. */
export interface ReadContext extends ErrorContext {
  /** The contact ID looked up; absent for a listing. */
  readonly contactId?: string;
}

/**
 * A plain sentence for an error of GetContact or ListContacts. Reads change nothing, so these never speak of
 * saving; the errors that mean the same for a read as for a save are worded by errorSentence.
 */
export function readErrorSentence(error: ConnectError, context: ReadContext): string {
  switch (error.code) {
    case Code.NotFound:
      return `Firm “${context.firmId}” has no contact with the ID “${context.contactId ?? ""}”. Check the ID and the Firm ID.`;
    case Code.PermissionDenied:
      return `This API key may not read contacts of firm “${context.firmId}”.`;
    case Code.InvalidArgument:
      return error.rawMessage
        ? `The contacts could not be read: ${inFormWords(error.rawMessage)}.`
        : "The contacts could not be read.";
    case Code.Canceled:
      return "Reading the contacts was cancelled.";
    case Code.Aborted:
    case Code.ResourceExhausted:
    case Code.AlreadyExists:
      return "The contacts service could not answer this time. Try again in a moment.";
    default:
      return errorSentence(error, context);
  }
}

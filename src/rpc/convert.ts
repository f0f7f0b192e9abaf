import { create, toBinary } from "@bufbuild/protobuf";
import { FieldMaskSchema, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Contact as ContactMessage, ContactSchema } from "../../gen/contacts/v1/contact_pb.js";
import {
  type AssignContactRequest,
  type BatchUpsertContactsRequest,
  type BatchUpsertContactsResult,
  BatchUpsertContactsResultSchema,
  ChangeKind,
  type ContactChange,
  ContactChangeSchema,
  type ListContactsRequest,
  MatchKey,
  type UnassignContactRequest,
  type UpdateContactRequest,
  type UpsertContactRequest,
  type UpsertContactResponse,
  UpsertContactResponseSchema,
  UpsertResult,
} from "../../gen/contacts/v1/contact_service_pb.js";
import type { RawUpdateRequest } from "../contacts/apply-update.js";
import type { RawAssignmentRequest } from "../contacts/assignments.js";
import type { BatchItemResult, RawBatchUpsertRequest } from "../contacts/batch-types.js";
import type { Contact, ListedContact } from "../contacts/contact.js";
import type { MatchKey as DomainMatchKey } from "../contacts/decide-upsert.js";
import { ANSWER_OVERHEAD, contactBytes, trimToFit } from "../contacts/encoded-size.js";
import { DATA_FIELDS, MAX_LENGTH } from "../contacts/fields.js";
import { protoFieldName } from "../contacts/history.js";
import type { ChangeKind as DomainChangeKind, RecordedChange } from "../contacts/history-entry.js";
import type { RawListRequest } from "../contacts/list-contacts.js";
import { UPDATABLE_FIELDS } from "../contacts/update-mask.js";
import type { UpsertOutcome } from "../contacts/upsert-outcome.js";
import type { RawUpsertRequest } from "../contacts/validate-upsert.js";
import { toStatus } from "./error-mapping.js";

/** The request's strings as the use case takes them; absent optional fields stay undefined. */
export function upsertRequestFromProto(request: UpsertContactRequest): RawUpsertRequest {
  const raw: Record<string, string | boolean | undefined> = {
    firmId: request.firmId,
    trackingId: request.trackingId,
    email: request.email,
    validateOnly: request.validateOnly,
    requestId: request.requestId,
  };
  for (const field of DATA_FIELDS) raw[field] = request[field];
  return raw as RawUpsertRequest;
}

/**
 * UpdateContact's contact id, mask paths and values; proto3 `email` and names read as "" when unset. A JSON
 * request's mask paths are given back as the client wrote them: protobuf-es turns a JSON path into a proto one
 * (`firmId` into `firm_id`, `CITY` into `_c_i_t_y`), which an error must not echo.
 */
export function updateRequestFromProto(request: UpdateContactRequest, json = false): RawUpdateRequest {
  const values: Record<string, string | undefined> = {};
  for (const field of UPDATABLE_FIELDS) values[field] = request.contact?.[field];
  const paths = request.updateMask?.paths;
  return {
    firmId: request.firmId,
    id: request.contact?.id,
    paths: json ? paths?.map(jsonPath) : paths,
    values,
  };
}

/** Undoes protobuf-es's JSON-to-proto path conversion: a JSON path has no `_`, each `_x` was an `X`. */
function jsonPath(path: string): string {
  return path.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** True when the call's messages are JSON (Connect JSON, or gRPC and gRPC-Web with the JSON codec). */
export function isJsonCall(contentType: string | null): boolean {
  return /^application\/(?:(?:connect|grpc|grpc-web)\+)?json(?:;|$)/.test(contentType ?? "");
}

/** ListContacts' parameters; the timestamp is passed as its two fields. */
export function listRequestFromProto(request: ListContactsRequest): RawListRequest {
  return {
    firmId: request.firmId,
    pageSize: request.pageSize,
    pageToken: request.pageToken,
    updatedAfter: request.updatedAfter && {
      seconds: request.updatedAfter.seconds,
      nanos: request.updatedAfter.nanos,
    },
    showDeleted: request.showDeleted,
    filter: request.filter,
    orderBy: request.orderBy,
  };
}

/** AssignContact's or UnassignContact's ids. */
export function assignmentRequestFromProto(
  request: AssignContactRequest | UnassignContactRequest,
): RawAssignmentRequest {
  return {
    firmId: request.firmId,
    contactId: request.contactId,
    clientIds: request.clientIds,
    investmentEntityIds: request.investmentEntityIds,
  };
}

/** A stored contact as the wire message; null values become absent fields. */
export function contactToProto(contact: Contact | ListedContact): ContactMessage {
  const message = create(ContactSchema, {
    id: contact.id,
    firmId: contact.firmId,
    email: contact.email,
    createTime: timestampFromDate(contact.createTime),
    updateTime: timestampFromDate(contact.updateTime),
    clientIds: [...contact.clientIds],
    investmentEntityIds: [...contact.investmentEntityIds],
  });
  if (contact.trackingId !== null) message.trackingId = contact.trackingId;
  for (const field of DATA_FIELDS) {
    const value = contact[field];
    if (value !== null) message[field] = value;
  }
  if ("deleteTime" in contact && contact.deleteTime !== null) {
    message.deleteTime = timestampFromDate(contact.deleteTime);
  }
  return message;
}

const UPSERT_RESULT: Readonly<Record<UpsertOutcome["result"], UpsertResult>> = {
  created: UpsertResult.CREATED,
  updated: UpsertResult.UPDATED,
};

const MATCH_KEY: Readonly<Record<DomainMatchKey, MatchKey>> = {
  trackingId: MatchKey.TRACKING_ID,
  email: MatchKey.EMAIL,
};

/** What an upsert did, as UpsertContact answers it (a batch item answers the same message). */
export function upsertResponseToProto(outcome: UpsertOutcome): UpsertContactResponse {
  return create(UpsertContactResponseSchema, {
    contact: contactToProto(outcome.contact),
    result: UPSERT_RESULT[outcome.result],
    matchedBy: outcome.matchedBy === undefined ? MatchKey.UNSPECIFIED : MATCH_KEY[outcome.matchedBy],
    changedFields: create(FieldMaskSchema, { paths: outcome.changed.map(protoFieldName) }),
  });
}

/** The batch as the use case takes it: each item's strings as a single upsert's. */
export function batchRequestFromProto(request: BatchUpsertContactsRequest): RawBatchUpsertRequest {
  return {
    firmId: request.firmId,
    items: request.requests.map(upsertRequestFromProto),
    allOrNone: request.allOrNone,
    validateOnly: request.validateOnly,
  };
}

/** One item's result: the single call's response, or the google.rpc.Status it would have failed with. */
export function batchResultToProto(result: BatchItemResult): BatchUpsertContactsResult {
  return create(BatchUpsertContactsResultSchema, {
    outcome:
      result.kind === "done"
        ? { case: "response", value: upsertResponseToProto(result.outcome) }
        : { case: "error", value: toStatus(result.error) },
  });
}

// A response beside its contact: result and match key (JSON enum names), changed_fields (every field's name).
const RESPONSE_FRAMING_BYTES = 1_024;
// An error's Status: no contact, only server text and the names of the item's fields; JSON at most doubles the
// protobuf size of such ASCII text, plus the details' type URLs.
const errorBytes = (status: BatchUpsertContactsResult) =>
  2 * toBinary(BatchUpsertContactsResultSchema, status).length + 256;
const TRIMMED_CONTACT_BYTES = contactBytes({
  id: "00000000-0000-0000-0000-000000000000",
  firmId: "x".repeat(4 * MAX_LENGTH.firmId),
  createTime: new Date(0),
  updateTime: new Date(0),
  clientIds: [],
  investmentEntityIds: [],
} as unknown as Contact);

/**
 * A batch's results as BatchUpsertContacts answers them, within `responseMaxBytes`: each item's contact whole while
 * the answer allows, then trimmed to its id, firm and times with `contact_trimmed` set (see the proto). A thousand
 * contacts at their maxima would take about 570 MB; trimmed, about 1.5 MB.
 */
export function batchResultsWithin(
  results: readonly BatchItemResult[],
  responseMaxBytes: number,
): BatchUpsertContactsResult[] {
  const messages = results.map(batchResultToProto);
  const full = results.map((result, i) =>
    result.kind === "done"
      ? RESPONSE_FRAMING_BYTES + contactBytes(result.outcome.contact)
      : errorBytes(messages[i] as BatchUpsertContactsResult),
  );
  const trimmedSizes = results.map((result, i) =>
    result.kind === "done" ? RESPONSE_FRAMING_BYTES + TRIMMED_CONTACT_BYTES : (full[i] as number),
  );
  const trims = trimToFit(full, trimmedSizes, responseMaxBytes - ANSWER_OVERHEAD);
  return messages.map((message, i) => {
    if (!trims[i] || message.outcome.case !== "response") return message;
    const contact = message.outcome.value.contact;
    message.outcome.value.contact = create(ContactSchema, {
      id: contact?.id,
      firmId: contact?.firmId,
      createTime: contact?.createTime,
      updateTime: contact?.updateTime,
    });
    message.contactTrimmed = true;
    return message;
  });
}

const CHANGE_KIND: Readonly<Record<DomainChangeKind, ChangeKind>> = {
  created: ChangeKind.CREATED,
  updated: ChangeKind.UPDATED,
  deleted: ChangeKind.DELETED,
  assigned: ChangeKind.ASSIGNED,
  unassigned: ChangeKind.UNASSIGNED,
};

/** A recorded change as ListContactChanges answers it; null values become absent fields. */
export function contactChangeToProto(change: RecordedChange): ContactChange {
  return create(ContactChangeSchema, {
    changeTime: timestampFromDate(change.changeTime),
    contactId: change.contactId,
    principal: change.principal,
    requestId: change.requestId ?? undefined,
    kind: CHANGE_KIND[change.kind],
    fields: change.fields.map(({ field, oldValue, newValue }) => ({
      field,
      oldValue: oldValue ?? undefined,
      newValue: newValue ?? undefined,
    })),
  });
}

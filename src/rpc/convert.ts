import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Contact as ContactMessage, ContactSchema } from "../../gen/contacts/v1/contact_pb.js";
import {
  MatchKey,
  type UpsertContactRequest,
  type UpsertContactResponse,
  UpsertContactResponseSchema,
  UpsertResult,
} from "../../gen/contacts/v1/contact_service_pb.js";
import type { Contact } from "../contacts/contact.js";
import type { MatchKey as DomainMatchKey } from "../contacts/decide-upsert.js";
import { DATA_FIELDS } from "../contacts/fields.js";
import type { UpsertOutcome } from "../contacts/upsert-contact.js";
import type { RawUpsertRequest } from "../contacts/validate-upsert.js";

/** The request's strings as the use case takes them; absent optional fields stay undefined. */
export function upsertRequestFromProto(request: UpsertContactRequest): RawUpsertRequest {
  const raw: Record<string, string | undefined> = {
    firmId: request.firmId,
    trackingId: request.trackingId,
    email: request.email,
  };
  for (const field of DATA_FIELDS) raw[field] = request[field];
  return raw as RawUpsertRequest;
}

/** A stored contact as the wire message; null values become absent fields. */
export function contactToProto(contact: Contact): ContactMessage {
  const message = create(ContactSchema, {
    id: contact.id,
    firmId: contact.firmId,
    email: contact.email,
    createTime: timestampFromDate(contact.createTime),
    updateTime: timestampFromDate(contact.updateTime),
  });
  if (contact.trackingId !== null) message.trackingId = contact.trackingId;
  for (const field of DATA_FIELDS) {
    const value = contact[field];
    if (value !== null) message[field] = value;
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

/** A contact field's name in the contract (proto field names are snake_case; ours are lowerCamelCase). */
function protoFieldName(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

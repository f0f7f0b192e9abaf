import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { ContactService } from "../../gen/contacts/v1/contact_service_pb.js";
import { type Actor, ANONYMOUS } from "../contacts/actor.js";
import type { RawUpdateRequest } from "../contacts/apply-update.js";
import type { RawAssignmentRequest } from "../contacts/assignments.js";
import type { BatchItemResult, RawBatchUpsertRequest } from "../contacts/batch-types.js";
import type { Contact } from "../contacts/contact.js";
import type { ContactRef } from "../contacts/get-contact.js";
import type { ChangesPage, RawChangesRequest } from "../contacts/list-contact-changes.js";
import type { ContactPage, RawListRequest } from "../contacts/list-contacts.js";
import type { UpsertOutcome } from "../contacts/upsert-outcome.js";
import type { UseCase } from "../contacts/use-case.js";
import type { RawUpsertRequest } from "../contacts/validate-upsert.js";
import { principalKey } from "./call-context.js";

/** RESPONSE_MAX_BYTES' default: what grpc-js and most gRPC clients accept by default. */
export const DEFAULT_RESPONSE_MAX_BYTES = 4_194_304;

import {
  assignmentRequestFromProto,
  batchRequestFromProto,
  batchResultsWithin,
  contactChangeToProto,
  contactToProto,
  isJsonCall,
  listRequestFromProto,
  updateRequestFromProto,
  upsertRequestFromProto,
  upsertResponseToProto,
} from "./convert.js";

/** The use cases the ContactService handlers call. */
export interface ContactUseCases {
  readonly upsertContact: UseCase<RawUpsertRequest, UpsertOutcome>;
  readonly batchUpsertContacts: UseCase<RawBatchUpsertRequest, readonly BatchItemResult[]>;
  readonly getContact: UseCase<ContactRef, Contact>;
  readonly listContacts: UseCase<RawListRequest, ContactPage>;
  readonly updateContact: UseCase<RawUpdateRequest, Contact>;
  readonly deleteContact: UseCase<ContactRef, void>;
  readonly assignContact: UseCase<RawAssignmentRequest, Contact>;
  readonly unassignContact: UseCase<RawAssignmentRequest, Contact>;
  readonly listContactChanges: UseCase<RawChangesRequest, ChangesPage>;
}

/**
 * ContactService handlers: decode, call the use case, encode. Errors propagate to the error interceptor, which
 * owns their mapping to status codes.
 */
export function contactServiceHandlers(
  useCases: ContactUseCases,
  responseMaxBytes = DEFAULT_RESPONSE_MAX_BYTES,
): Partial<ServiceImpl<typeof ContactService>> {
  return {
    async upsertContact(request, context) {
      const outcome = await useCases.upsertContact(
        upsertRequestFromProto(request),
        context.signal,
        actorOf(context, request.requestId),
      );
      return upsertResponseToProto(outcome);
    },
    async batchUpsertContacts(request, context) {
      const results = await useCases.batchUpsertContacts(
        batchRequestFromProto(request),
        context.signal,
        actorOf(context, request.requestId),
      );
      return { results: batchResultsWithin(results, responseMaxBytes) };
    },
    async getContact(request, context) {
      const contact = await useCases.getContact(request, context.signal);
      return { contact: contactToProto(contact) };
    },
    async listContacts(request, context) {
      const page = await useCases.listContacts(listRequestFromProto(request), context.signal);
      return { contacts: page.contacts.map(contactToProto), nextPageToken: page.nextPageToken };
    },
    async updateContact(request, context) {
      const contact = await useCases.updateContact(
        updateRequestFromProto(request, isJsonCall(context.requestHeader.get("content-type"))),
        context.signal,
        actorOf(context),
      );
      return { contact: contactToProto(contact) };
    },
    async deleteContact(request, context) {
      await useCases.deleteContact(request, context.signal, actorOf(context));
      return {};
    },
    async assignContact(request, context) {
      const contact = await useCases.assignContact(
        assignmentRequestFromProto(request),
        context.signal,
        actorOf(context),
      );
      return { contact: contactToProto(contact) };
    },
    async unassignContact(request, context) {
      const contact = await useCases.unassignContact(
        assignmentRequestFromProto(request),
        context.signal,
        actorOf(context),
      );
      return { contact: contactToProto(contact) };
    },
    async listContactChanges(request, context) {
      const page = await useCases.listContactChanges(request, context.signal);
      return { changes: page.changes.map(contactChangeToProto), nextPageToken: page.nextPageToken };
    },
  };
}

/** The call's actor: its API key's name (or "anonymous") and the request id it sent, if any. */
function actorOf(context: HandlerContext, requestId?: string): Actor {
  const principal = context.values.get(principalKey)?.name ?? ANONYMOUS.principal;
  return { principal, requestId: requestId ?? null };
}

import type { ServiceImpl } from "@connectrpc/connect";
import type { ContactService } from "../../gen/contacts/v1/contact_service_pb.js";
import type { RawUpdateRequest } from "../contacts/apply-update.js";
import type { RawAssignmentRequest } from "../contacts/assignments.js";
import type { Contact } from "../contacts/contact.js";
import type { ContactRef } from "../contacts/get-contact.js";
import type { ContactPage, RawListRequest } from "../contacts/list-contacts.js";
import type { UpsertOutcome } from "../contacts/upsert-contact.js";
import type { RawUpsertRequest } from "../contacts/validate-upsert.js";
import {
  assignmentRequestFromProto,
  contactToProto,
  listRequestFromProto,
  updateRequestFromProto,
  upsertRequestFromProto,
  upsertResponseToProto,
} from "./convert.js";

/** A use case as the handlers call it: a request, the call's signal, an answer. */
export type UseCase<Request, Response> = (request: Request, signal?: AbortSignal) => Promise<Response>;

/** The use cases the ContactService handlers call. */
export interface ContactUseCases {
  readonly upsertContact: UseCase<RawUpsertRequest, UpsertOutcome>;
  readonly getContact: UseCase<ContactRef, Contact>;
  readonly listContacts: UseCase<RawListRequest, ContactPage>;
  readonly updateContact: UseCase<RawUpdateRequest, Contact>;
  readonly deleteContact: UseCase<ContactRef, void>;
  readonly assignContact: UseCase<RawAssignmentRequest, Contact>;
  readonly unassignContact: UseCase<RawAssignmentRequest, Contact>;
}

/**
 * ContactService handlers: decode, call the use case, encode. Errors propagate to the error interceptor, which
 * owns their mapping to status codes.
 */
export function contactServiceHandlers(
  useCases: ContactUseCases,
): Partial<ServiceImpl<typeof ContactService>> {
  return {
    async upsertContact(request, context) {
      const outcome = await useCases.upsertContact(upsertRequestFromProto(request), context.signal);
      return upsertResponseToProto(outcome);
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
      const contact = await useCases.updateContact(updateRequestFromProto(request), context.signal);
      return { contact: contactToProto(contact) };
    },
    async deleteContact(request, context) {
      await useCases.deleteContact(request, context.signal);
      return {};
    },
    async assignContact(request, context) {
      const contact = await useCases.assignContact(assignmentRequestFromProto(request), context.signal);
      return { contact: contactToProto(contact) };
    },
    async unassignContact(request, context) {
      const contact = await useCases.unassignContact(assignmentRequestFromProto(request), context.signal);
      return { contact: contactToProto(contact) };
    },
  };
}

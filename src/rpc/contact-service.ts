import type { ServiceImpl } from "@connectrpc/connect";
import type { ContactService } from "../../gen/contacts/v1/contact_service_pb.js";
import type { UpsertOutcome } from "../contacts/upsert-contact.js";
import type { RawUpsertRequest } from "../contacts/validate-upsert.js";
import { upsertRequestFromProto, upsertResponseToProto } from "./convert.js";

/** The use cases the ContactService handlers call. */
export interface ContactUseCases {
  readonly upsertContact: (request: RawUpsertRequest, signal?: AbortSignal) => Promise<UpsertOutcome>;
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
  };
}

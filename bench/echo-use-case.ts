import type { Contact } from "../src/contacts/contact.js";
import { DATA_FIELDS } from "../src/contacts/fields.js";
import type { UpsertOutcome } from "../src/contacts/upsert-outcome.js";
import type { RawUpsertRequest } from "../src/contacts/validate-upsert.js";
import type { ContactUseCases } from "../src/rpc/contact-service.js";

const ECHO_ID = "00000000-0000-7000-8000-000000000000";

/**
 * The framework's floor: an UpsertContact that does no work beyond echoing the request back as the stored
 * contact. No validation, no database. The handler, interceptors, codecs and listeners around it are the real
 * ones, so a call to it costs what the service costs before its own work starts.
 */
export function echoUpsertContact(): ContactUseCases["upsertContact"] {
  return async (raw: RawUpsertRequest): Promise<UpsertOutcome> => {
    const now = new Date();
    const contact: Record<string, unknown> = {
      id: ECHO_ID,
      firmId: raw.firmId,
      trackingId: raw.trackingId ?? null,
      email: raw.email ?? "",
      createTime: now,
      updateTime: now,
      clientIds: [],
      investmentEntityIds: [],
    };
    for (const field of DATA_FIELDS) contact[field] = raw[field] ?? null;
    return { result: "updated", contact: contact as Contact, changed: [] };
  };
}

/** The floor of BatchUpsertContacts: every item echoed as above, no validation, no database. */
export function echoBatchUpsertContacts(): ContactUseCases["batchUpsertContacts"] {
  const echo = echoUpsertContact();
  return async (request) =>
    Promise.all(
      request.items.map(async (item) => ({
        kind: "done" as const,
        outcome: await echo({ ...item, firmId: request.firmId }),
        stamp: null,
      })),
    );
}

/** The echo upserts, and every other RPC refused: the echo bench measures UpsertContact and the batch only. */
export function echoUseCases(): ContactUseCases {
  const refuse = async (): Promise<never> => {
    throw new Error("the echo server serves UpsertContact and BatchUpsertContacts only");
  };
  return {
    upsertContact: echoUpsertContact(),
    batchUpsertContacts: echoBatchUpsertContacts(),
    getContact: refuse,
    listContacts: refuse,
    updateContact: refuse,
    deleteContact: refuse,
    assignContact: refuse,
    unassignContact: refuse,
    listContactChanges: refuse,
  };
}

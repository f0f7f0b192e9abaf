// The rest of the Contact API from connect-node, as a nightly CRM sync uses it: a dry run of a batch of upserts
// with one failing item, the batch with a request id and its retry, GetContact, an incremental sync loop with
// ListContacts, UpdateContact with an update mask, AssignContact and UnassignContact, DeleteContact, a second sync
// pass that sees those changes and the deletion, and one contact's change history.
// Usage: npm run build && node dist/examples/connect-node/crm-sync.js [http://127.0.0.1:8080]
// Environment: CONTACTS_URL (instead of the argument), FIRM_ID (default: a new firm each run, printed first), CONTACTS_TOKEN (an API key).
import { randomUUID } from "node:crypto";
import { equals, type MessageInitShape } from "@bufbuild/protobuf";
import { anyUnpack, type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { Contact } from "../../gen/contacts/v1/contact_pb.js";
import {
  type BatchUpsertContactsRequestSchema,
  type BatchUpsertContactsResponse,
  BatchUpsertContactsResponseSchema,
  type ChangeKind,
  ChangeKindSchema,
  ContactService,
  type UpsertResult,
  UpsertResultSchema,
} from "../../gen/contacts/v1/contact_service_pb.js";
// google.rpc detail types, generated from the google-proto-files package by `npm run generate:third-party`.
import { BadRequestSchema } from "../../gen-deps/google/rpc/error_details_pb.js";

const url = process.argv[2] ?? process.env.CONTACTS_URL ?? "http://127.0.0.1:8080";
// A firm of its own per run, so that what earlier runs (or other examples) stored cannot change what this prints.
const firmId = process.env.FIRM_ID || `example-${randomUUID().slice(0, 8)}`;
console.log(`firm ${firmId}`);
const token = process.env.CONTACTS_TOKEN;
// gRPC over HTTP/2; createConnectTransport({ baseUrl, httpVersion: "1.1" }) speaks Connect to the same port.
const client = createClient(ContactService, createGrpcTransport({ baseUrl: url }));
const callOptions = { timeoutMs: 10_000, headers: token ? { authorization: `Bearer ${token}` } : {} };
// 1 so that this small book takes several pages; a real sync asks for 1000, the most a page holds.
const PAGE_SIZE = 1;

type BatchUpsertContactsRequestInit = MessageInitShape<typeof BatchUpsertContactsRequestSchema>;

// The batch a nightly job sends: one result per item, in order. A failing item does not stop the others
// (without allOrNone); its outcome is the google.rpc.Status UpsertContact would have failed with.
const batchRequest: BatchUpsertContactsRequestInit = {
  firmId,
  requests: [
    { trackingId: "CRM-1", email: "ann@example.com", firstName: "Ann", lastName: "Lee" },
    { trackingId: "CRM-2", email: "bob@example.com", firstName: "Bob", lastName: "Ray" },
    { trackingId: "CRM-3", email: "cy@example.com", firstName: "Cy", lastName: "Day" },
    { trackingId: "CRM-4", email: "not-an-email", firstName: "Dee", lastName: "Fox" },
  ],
};

// A dry run first: validateOnly answers item by item what the batch would do and writes nothing. A previewed
// create shows an id that is not reserved; the real batch gets other ids.
const dryRun = await client.batchUpsertContacts({ ...batchRequest, validateOnly: true }, callOptions);
printResults("dry run", dryRun);

// The real batch, with a request id made of the run and the batch's number (a real job uses its run's date, so
// a restarted run resends the same ids). Sent again with the same id, as a client does after a timeout: if the
// first attempt committed, the stored first answer comes back (same ids, same times) and nothing is written again.
const requestId = `nightly-${new Date().toISOString()}-batch-1`;
const batch = await client.batchUpsertContacts({ ...batchRequest, requestId }, callOptions);
printResults("batch", batch);
const retry = await client.batchUpsertContacts({ ...batchRequest, requestId }, callOptions);
printResults("retry", retry);
if (!equals(BatchUpsertContactsResponseSchema, retry, batch)) {
  throw new Error("the retry's answer differs from the first");
}
console.log("retry: the same answer as the first, nothing written twice");
const ids = batch.results.flatMap(({ outcome }) =>
  outcome.case === "response" ? [outcome.value.contact?.id ?? ""] : [],
);
const [annId = "", bobId = ""] = ids;

// GetContact: one contact by id (NOT_FOUND once it is deleted).
const { contact: ann } = await client.getContact({ firmId, id: annId }, callOptions);
console.log(`get ${ann?.id} ${ann?.trackingId} ${ann?.email} ${ann?.firstName} ${ann?.lastName}`);

/**
 * One pass of the incremental sync: every page of ListContacts changed after `updatedAfter` (all of them when
 * undefined), deletions included. Returns the contacts in order, the page count, and the largest update_time
 * seen, to keep for the next pass (save it only once a pass has completed).
 */
async function syncPass(updatedAfter: Timestamp | undefined) {
  const contacts: Contact[] = [];
  let pages = 0;
  let largest = updatedAfter;
  let pageToken = "";
  do {
    // A page token is bound to updatedAfter and showDeleted: send the same ones with it.
    const page = await client.listContacts(
      { firmId, pageSize: PAGE_SIZE, pageToken, updatedAfter, showDeleted: true },
      callOptions,
    );
    pages += 1;
    for (const contact of page.contacts) {
      contacts.push(contact);
      const time = contact.updateTime;
      if (time && (!largest || timestampMs(time) > timestampMs(largest))) largest = time;
    }
    pageToken = page.nextPageToken;
  } while (pageToken);
  return { contacts, pages, largest };
}

// The first pass has nothing to start from: the whole book.
const first = await syncPass(undefined);
for (const contact of first.contacts) console.log(`first pass: ${contact.id} ${contact.email}`);
console.log(`first pass: ${first.contacts.length} contacts, ${first.pages} pages`);

// UpdateContact: exactly the fields named in the mask change; here the email, which upsert never changes.
const { contact: moved } = await client.updateContact(
  { firmId, contact: { id: annId, email: "ann.lee@example.com" }, updateMask: { paths: ["email"] } },
  callOptions,
);
console.log(`update ${moved?.id} email=${moved?.email}`);

// AssignContact adds ids, UnassignContact removes them; both answer with the contact's assignments after.
const assigned = await client.assignContact(
  { firmId, contactId: annId, clientIds: ["C-1", "C-2"], investmentEntityIds: ["E-1"] },
  callOptions,
);
console.log(`assign ${assignments(assigned.contact)}`);
const unassigned = await client.unassignContact(
  { firmId, contactId: annId, clientIds: ["C-2"], investmentEntityIds: ["E-1"] },
  callOptions,
);
console.log(`unassign ${assignments(unassigned.contact)}`);

// DeleteContact: the answer is empty; the contact's email and tracking id are free again at once.
await client.deleteContact({ firmId, id: bobId }, callOptions);
console.log(`delete ${bobId}`);

// The next pass starts after the largest update_time of the first: only what changed since (not Cy), each
// contact in its latest state, and the deleted one with deleteTime set, so the copy can drop it.
const next = await syncPass(first.largest);
for (const contact of next.contacts) {
  console.log(
    contact.deleteTime
      ? `next pass: deleted ${contact.id}`
      : `next pass: changed ${contact.id} ${contact.email} ${assignments(contact)}`,
  );
}
console.log(`next pass: ${next.contacts.length} contacts, ${next.pages} pages`);

// ListContactChanges: who changed Ann, in which call, and what, newest first. Her history fits one page (100 by
// default); a longer one pages with nextPageToken, as ListContacts does.
const { changes } = await client.listContactChanges({ firmId, contactId: annId }, callOptions);
for (const { kind, principal, requestId: callId, fields } of changes) {
  // An absent old or new value means none: a field set on create, an id added or removed.
  const values = fields.map((f) => `${f.field}: ${f.oldValue ?? "(none)"} -> ${f.newValue ?? "(none)"}`);
  console.log(`history ${kindName(kind)} by ${principal} request=${callId ?? "(none)"} ${values.join(", ")}`);
}

/** Prints each item of a BatchUpsertContacts answer: result, id and changed fields, or code and BadRequest. */
function printResults(label: string, { results }: BatchUpsertContactsResponse): void {
  for (const [index, { outcome }] of results.entries()) {
    if (outcome.case === "response") {
      const { result, contact, changedFields } = outcome.value;
      const paths = changedFields?.paths.join(",") ?? "";
      console.log(`${label} ${index} ${resultName(result)} ${contact?.id} ${paths}`);
    } else if (outcome.case === "error") {
      // Each detail is an Any; anyUnpack decodes it when its type is the one asked for.
      for (const any of outcome.value.details) {
        const badRequest = anyUnpack(any, BadRequestSchema);
        for (const { field, description } of badRequest?.fieldViolations ?? []) {
          console.log(`${label} ${index} ${codeName(outcome.value.code)} ${field}: ${description}`);
        }
      }
    }
  }
}

/** A contact's assignments, e.g. "clients=C-1,C-2 entities=E-1" ("-" for none). */
function assignments(contact: Contact | undefined): string {
  const clients = contact?.clientIds.join(",") || "-";
  const entities = contact?.investmentEntityIds.join(",") || "-";
  return `clients=${clients} entities=${entities}`;
}

/** The enum value's proto name, "UPSERT_RESULT_CREATED" (the TypeScript enum says UpsertResult.CREATED). */
function resultName(result: UpsertResult): string {
  return UpsertResultSchema.value[result]?.name ?? String(result);
}

/** The enum value's proto name, "CHANGE_KIND_CREATED". */
function kindName(kind: ChangeKind): string {
  return ChangeKindSchema.value[kind]?.name ?? String(kind);
}

/** gRPC's name for a code: Code.InvalidArgument (3, as a google.rpc.Status carries it) is "INVALID_ARGUMENT". */
function codeName(code: Code): string {
  return (Code[code] ?? String(code)).replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

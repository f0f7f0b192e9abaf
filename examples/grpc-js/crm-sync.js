// The rest of the Contact API from grpc-js, as a nightly CRM sync uses it: a dry run of a batch of upserts with
// one failing item, the batch with a request id and its retry, GetContact, an incremental sync loop with
// ListContacts, UpdateContact with an update mask, AssignContact and UnassignContact, DeleteContact, a second sync
// pass that sees those changes and the deletion, and one contact's change history.
// Usage: node examples/grpc-js/crm-sync.js [http://127.0.0.1:8080]
// Environment: CONTACTS_URL (instead of the argument), FIRM_ID (default: a new firm each run, printed first), CONTACTS_TOKEN (an API key).
import { randomUUID } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import {
  call,
  codeName,
  contactServiceClient,
  retryServiceConfig,
  statusDetails,
  toDate,
} from "./contacts-client.js";

const url = process.argv[2] ?? process.env.CONTACTS_URL ?? "http://127.0.0.1:8080";
// A firm of its own per run, so that what earlier runs (or other examples) stored cannot change what this prints.
const firmId = process.env.FIRM_ID || `example-${randomUUID().slice(0, 8)}`;
console.log(`firm ${firmId}`);
const options = { token: process.env.CONTACTS_TOKEN };
// Every ContactService RPC is idempotent, so the channel retries UNAVAILABLE, ABORTED and RESOURCE_EXHAUSTED
// with the service config of docs/api.md; the request id below covers what it cannot: a reply lost after a commit.
const client = contactServiceClient(url, { "grpc.service_config": JSON.stringify(retryServiceConfig()) });
// 1 so that this small book takes several pages; a real sync asks for 1000, the most a page holds.
const PAGE_SIZE = 1;

// The batch a nightly job sends: one result per item, in order. A failing item does not stop the others
// (without allOrNone); its `error` is the google.rpc.Status UpsertContact would have failed with.
const batchRequest = {
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
const dryRun = await call(client, "batchUpsertContacts", { ...batchRequest, validateOnly: true }, options);
printResults("dry run", dryRun);

// The real batch, with a request id made of the run and the batch's number (a real job uses its run's date, so
// a restarted run resends the same ids). Sent again with the same id, as a client does after a timeout: if the
// first attempt committed, the stored first answer comes back (same ids, same times) and nothing is written again.
const requestId = `nightly-${new Date().toISOString()}-batch-1`;
const batch = await call(client, "batchUpsertContacts", { ...batchRequest, requestId }, options);
printResults("batch", batch);
const retry = await call(client, "batchUpsertContacts", { ...batchRequest, requestId }, options);
printResults("retry", retry);
if (!isDeepStrictEqual(retry, batch)) throw new Error("the retry's answer differs from the first");
console.log("retry: the same answer as the first, nothing written twice");
const ids = batch.results.flatMap(({ response }) => (response ? [response.contact.id] : []));
const [annId, bobId] = ids;

// GetContact: one contact by id (NOT_FOUND once it is deleted).
const { contact: ann } = await call(client, "getContact", { firmId, id: annId }, options);
console.log(`get ${ann.id} ${ann.trackingId} ${ann.email} ${ann.firstName} ${ann.lastName}`);

/**
 * One pass of the incremental sync: every page of ListContacts changed after `updatedAfter` (all of them when
 * null), deletions included. Returns the contacts in order, the page count, and the largest update_time seen,
 * to keep for the next pass (save it only once a pass has completed).
 */
async function syncPass(updatedAfter) {
  const contacts = [];
  let pages = 0;
  let largest = updatedAfter;
  let pageToken = "";
  do {
    // A page token is bound to updatedAfter and showDeleted: send the same ones with it.
    const page = await call(
      client,
      "listContacts",
      { firmId, pageSize: PAGE_SIZE, pageToken, updatedAfter, showDeleted: true },
      options,
    );
    pages += 1;
    for (const contact of page.contacts) {
      contacts.push(contact);
      if (!largest || toDate(contact.updateTime) > toDate(largest)) largest = contact.updateTime;
    }
    pageToken = page.nextPageToken;
  } while (pageToken);
  return { contacts, pages, largest };
}

// The first pass has nothing to start from: the whole book.
const first = await syncPass(null);
for (const contact of first.contacts) console.log(`first pass: ${contact.id} ${contact.email}`);
console.log(`first pass: ${first.contacts.length} contacts, ${first.pages} pages`);

// UpdateContact: exactly the fields named in the mask change; here the email, which upsert never changes.
const { contact: moved } = await call(
  client,
  "updateContact",
  { firmId, contact: { id: annId, email: "ann.lee@example.com" }, updateMask: { paths: ["email"] } },
  options,
);
console.log(`update ${moved.id} email=${moved.email}`);

// AssignContact adds ids, UnassignContact removes them; both answer with the contact's assignments after.
const assigned = await call(
  client,
  "assignContact",
  { firmId, contactId: annId, clientIds: ["C-1", "C-2"], investmentEntityIds: ["E-1"] },
  options,
);
console.log(`assign ${assignments(assigned.contact)}`);
const unassigned = await call(
  client,
  "unassignContact",
  { firmId, contactId: annId, clientIds: ["C-2"], investmentEntityIds: ["E-1"] },
  options,
);
console.log(`unassign ${assignments(unassigned.contact)}`);

// DeleteContact: the answer is empty; the contact's email and tracking id are free again at once.
await call(client, "deleteContact", { firmId, id: bobId }, options);
console.log(`delete ${bobId}`);

// The next pass starts after the largest update_time of the first: only what changed since (not Cy), each
// contact in its latest state, and the deleted one with delete_time set, so the copy can drop it.
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
const { changes } = await call(client, "listContactChanges", { firmId, contactId: annId }, options);
for (const { kind, principal, requestId: callId, fields } of changes) {
  // An absent old or new value means none: a field set on create, an id added or removed.
  const values = fields.map((f) => `${f.field}: ${f.oldValue ?? "(none)"} -> ${f.newValue ?? "(none)"}`);
  console.log(`history ${kind} by ${principal} request=${callId ?? "(none)"} ${values.join(", ")}`);
}

client.close();

/** Prints each item of a BatchUpsertContacts answer: result, id and changed fields, or code and BadRequest. */
function printResults(label, { results }) {
  for (const [index, { response, error }] of results.entries()) {
    if (response) {
      const { result, contact, changedFields } = response;
      console.log(`${label} ${index} ${result} ${contact.id} ${changedFields.paths.join(",")}`);
      continue;
    }
    for (const detail of statusDetails(error)) {
      if (detail.type !== "google.rpc.BadRequest") continue;
      for (const { field, description } of detail.fieldViolations) {
        console.log(`${label} ${index} ${codeName(error)} ${field}: ${description}`);
      }
    }
  }
}

/** A contact's assignments, e.g. "clients=C-1,C-2 entities=E-1" ("-" for none). */
function assignments({ clientIds, investmentEntityIds }) {
  return `clients=${clientIds.join(",") || "-"} entities=${investmentEntityIds.join(",") || "-"}`;
}

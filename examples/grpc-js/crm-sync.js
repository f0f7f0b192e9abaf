// The rest of the Contact API from grpc-js, as a nightly CRM sync uses it: a batch of upserts with one failing
// item, GetContact, an incremental sync loop with ListContacts, UpdateContact with an update mask, AssignContact
// and UnassignContact, DeleteContact, and a second sync pass that sees those changes and the deletion.
// Usage: node examples/grpc-js/crm-sync.js [http://127.0.0.1:8080]
// Environment: CONTACTS_URL (instead of the argument), FIRM_ID (default "acme"), CONTACTS_TOKEN (an API key).
import { call, codeName, contactServiceClient, statusDetails, toDate } from "./contacts-client.js";

const url = process.argv[2] ?? process.env.CONTACTS_URL ?? "http://127.0.0.1:8080";
const firmId = process.env.FIRM_ID ?? "acme";
const options = { token: process.env.CONTACTS_TOKEN };
const client = contactServiceClient(url);
// 1 so that this small book takes several pages; a real sync asks for 1000, the most a page holds.
const PAGE_SIZE = 1;

// BatchUpsertContacts: one result per item, in order. A failing item does not stop the others (without
// allOrNone); its `error` is the google.rpc.Status UpsertContact would have failed with, details included.
const batch = await call(
  client,
  "batchUpsertContacts",
  {
    firmId,
    requests: [
      { trackingId: "CRM-1", email: "ann@example.com", firstName: "Ann", lastName: "Lee" },
      { trackingId: "CRM-2", email: "bob@example.com", firstName: "Bob", lastName: "Ray" },
      { trackingId: "CRM-3", email: "cy@example.com", firstName: "Cy", lastName: "Day" },
      { trackingId: "CRM-4", email: "not-an-email", firstName: "Dee", lastName: "Fox" },
    ],
  },
  options,
);
const ids = [];
for (const [index, { response, error }] of batch.results.entries()) {
  if (response) {
    ids.push(response.contact.id);
    console.log(`batch ${index} ${response.result} ${response.contact.id}`);
    continue;
  }
  for (const detail of statusDetails(error)) {
    if (detail.type !== "google.rpc.BadRequest") continue;
    for (const { field, description } of detail.fieldViolations) {
      console.log(`batch ${index} ${codeName(error)} ${field}: ${description}`);
    }
  }
}
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

client.close();

/** A contact's assignments, e.g. "clients=C-1,C-2 entities=E-1" ("-" for none). */
function assignments({ clientIds, investmentEntityIds }) {
  return `clients=${clientIds.join(",") || "-"} entities=${investmentEntityIds.join(",") || "-"}`;
}

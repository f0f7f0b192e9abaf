// WatchContactChanges from grpc-js: list the contacts, watch from the list's largest update_time, stop, and resume
// with the last resume_token without missing a change.
// Usage: node examples/grpc-js/watch-changes.js [http://127.0.0.1:8080]
// Environment: CONTACTS_URL (instead of the argument), FIRM_ID (default: a new firm each run, printed first), CONTACTS_TOKEN (an API key).
import { randomUUID } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { call, codeName, contactServiceClient, toDate } from "./contacts-client.js";

const url = process.argv[2] ?? process.env.CONTACTS_URL ?? "http://127.0.0.1:8080";
// A firm of its own per run, so that what earlier runs (or other examples) stored cannot change what this prints.
const firmId = process.env.FIRM_ID || `example-${randomUUID().slice(0, 8)}`;
console.log(`firm ${firmId}`);
const options = { token: process.env.CONTACTS_TOKEN };
const client = contactServiceClient(url);
const metadata = new grpc.Metadata();
if (options.token) metadata.set("authorization", `Bearer ${options.token}`);

const { contact } = await call(
  client,
  "upsertContact",
  { firmId, email: "watch@example.com", firstName: "Wat", lastName: "Cher" },
  options,
);

// 1. List: the copy to keep in sync, and the largest update_time it holds.
let largest = new Date(0);
let pageToken = "";
let listed = 0;
do {
  // showDeleted: a contact deleted while the list pages comes back as a tombstone, later than the cursor, rather
  // than going unseen before the largest update_time.
  const page = await call(
    client,
    "listContacts",
    { firmId, pageToken, pageSize: 1000, showDeleted: true },
    options,
  );
  for (const c of page.contacts) {
    if (toDate(c.updateTime) > largest) largest = toDate(c.updateTime);
    if (!c.deleteTime) listed++;
  }
  pageToken = page.nextPageToken;
} while (pageToken !== "");
console.log(`listed ${listed} contact(s), watching from ${largest.toISOString()}`);

/**
 * 2. Watch from there (or resume after a token): prints each change, keeps the last resume_token, and stops
 * after `wanted` changes. Heartbeats (no changes) only move the token on.
 */
function watch(request, wanted) {
  return new Promise((resolve, reject) => {
    let token = "";
    let seen = 0;
    const stream = client.watchContactChanges(request, metadata);
    stream.on("data", (message) => {
      token = message.resumeToken;
      for (const change of message.changes) {
        const fields = change.fields.map((f) => `${f.field}=${f.newValue ?? "(none)"}`).join(" ");
        const who = change.contactId === contact.id ? "watch@" : change.contactId;
        console.log(`${change.kind} ${who}${fields && ` ${fields}`}`);
        seen++;
      }
      if (seen >= wanted) stream.cancel();
    });
    stream.on("error", (error) => {
      // Our own cancel ends the stream as CANCELLED; anything else (UNAVAILABLE at a server's shutdown,
      // OUT_OF_RANGE for a start too old to resume from) is for the caller to act on.
      if (codeName(error) === "CANCELLED") resolve(token);
      else reject(error);
    });
  });
}

const seconds = Math.floor(largest.getTime() / 1000);
const startTime = { seconds: String(seconds), nanos: (largest.getTime() - seconds * 1000) * 1e6 };
const watching = watch({ firmId, startTime }, 2);
await call(client, "upsertContact", { firmId, email: "watch@example.com", city: "Oslo" }, options);
await call(client, "assignContact", { firmId, contactId: contact.id, clientIds: ["c1"] }, options);
const token = await watching;

// 3. While nobody watches, the contact is deleted; resuming with the last token brings exactly that change.
await call(client, "deleteContact", { firmId, id: contact.id }, options);
console.log("resuming");
await watch({ firmId, resumeToken: token }, 1);
client.close();

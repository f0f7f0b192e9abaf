// UpsertContact from grpc-js: create a contact, update it, and read the details of two errors.
// Usage: node examples/grpc-js/upsert-contact.js [http://127.0.0.1:8080]
// Environment: CONTACTS_URL (instead of the argument), FIRM_ID (default: a new firm each run, printed first), CONTACTS_TOKEN (an API key).
import { randomUUID } from "node:crypto";
import { call, codeName, contactServiceClient, errorDetails, toDate } from "./contacts-client.js";

const url = process.argv[2] ?? process.env.CONTACTS_URL ?? "http://127.0.0.1:8080";
// A firm of its own per run, so that what earlier runs (or other examples) stored cannot change what this prints.
const firmId = process.env.FIRM_ID || `example-${randomUUID().slice(0, 8)}`;
console.log(`firm ${firmId}`);
const options = { token: process.env.CONTACTS_TOKEN };
const client = contactServiceClient(url);

// Create: a new tracking id with an email, first and last name. Running it again updates the same contact.
const created = await call(
  client,
  "upsertContact",
  {
    firmId,
    trackingId: "CRM-1",
    email: "ann@example.com",
    firstName: "Ann",
    lastName: "Lee",
    phone: "+1 555 0100",
  },
  options,
);
const { contact } = created;
console.log(
  `${created.result} ${contact.id} ${contact.email}, created ${toDate(contact.createTime).toISOString()}`,
);

// Update by tracking id: a field sent replaces the stored value, an omitted one is kept, "" clears it.
const updated = await call(
  client,
  "upsertContact",
  { firmId, trackingId: "CRM-1", title: "CTO", phone: "" },
  options,
);
console.log(
  `${updated.result} ${updated.contact.id} title=${updated.contact.title} phone=${updated.contact.phone ?? "(none)"}`,
);

// Invalid input: INVALID_ARGUMENT with a google.rpc.BadRequest detail naming each bad field.
try {
  await call(client, "upsertContact", { firmId, email: "not-an-email" }, options);
} catch (error) {
  for (const detail of errorDetails(error)) {
    if (detail.type !== "google.rpc.BadRequest") continue;
    for (const { field, description } of detail.fieldViolations) {
      console.log(`${codeName(error)} ${field}: ${description}`);
    }
  }
}

// A new tracking id with an email another contact has: ALREADY_EXISTS with a google.rpc.ErrorInfo detail
// whose metadata names that contact.
try {
  await call(
    client,
    "upsertContact",
    { firmId, trackingId: "CRM-2", email: "ANN@example.com", firstName: "Ann", lastName: "Lee" },
    options,
  );
} catch (error) {
  const info = errorDetails(error).find((detail) => detail.type === "google.rpc.ErrorInfo");
  console.log(`${codeName(error)} ${info?.reason}: the email belongs to contact ${info?.metadata.contactId}`);
}

client.close();

// UpsertContact from connect-node with the generated code in gen/: create a contact, update it, and read the
// details of two errors with findDetails.
// Usage: npm run build && node dist/examples/connect-node/upsert-contact.js [http://127.0.0.1:8080]
// Environment: CONTACTS_URL (instead of the argument), FIRM_ID (default: a new firm each run, printed first), CONTACTS_TOKEN (an API key).
import { randomUUID } from "node:crypto";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  ContactService,
  type UpsertResult,
  UpsertResultSchema,
} from "../../gen/contacts/v1/contact_service_pb.js";
// google.rpc detail types, generated from the google-proto-files package by `npm run generate:third-party`.
import { BadRequestSchema, ErrorInfoSchema } from "../../gen-deps/google/rpc/error_details_pb.js";

const url = process.argv[2] ?? process.env.CONTACTS_URL ?? "http://127.0.0.1:8080";
// A firm of its own per run, so that what earlier runs (or other examples) stored cannot change what this prints.
const firmId = process.env.FIRM_ID || `example-${randomUUID().slice(0, 8)}`;
console.log(`firm ${firmId}`);
const token = process.env.CONTACTS_TOKEN;
// gRPC over HTTP/2; createConnectTransport({ baseUrl, httpVersion: "1.1" }) speaks Connect to the same port.
const client = createClient(ContactService, createGrpcTransport({ baseUrl: url }));
const callOptions = { timeoutMs: 10_000, headers: token ? { authorization: `Bearer ${token}` } : {} };

// Create: a new tracking id with an email, first and last name. Running it again updates the same contact.
const created = await client.upsertContact(
  {
    firmId,
    trackingId: "CRM-1",
    email: "ann@example.com",
    firstName: "Ann",
    lastName: "Lee",
    phone: "+1 555 0100",
  },
  callOptions,
);
const contact = created.contact;
if (!contact) throw new Error("the response has no contact");
const createTime = contact.createTime ? timestampDate(contact.createTime).toISOString() : "?";
console.log(`${resultName(created.result)} ${contact.id} ${contact.email}, created ${createTime}`);

// Update by tracking id: a field sent replaces the stored value, an omitted one is kept, "" clears it.
const updated = await client.upsertContact(
  { firmId, trackingId: "CRM-1", title: "CTO", phone: "" },
  callOptions,
);
console.log(
  `${resultName(updated.result)} ${updated.contact?.id} title=${updated.contact?.title} phone=${updated.contact?.phone ?? "(none)"}`,
);

// Invalid input: INVALID_ARGUMENT with a google.rpc.BadRequest detail naming each bad field.
try {
  await client.upsertContact({ firmId, email: "not-an-email" }, callOptions);
} catch (thrown) {
  const error = ConnectError.from(thrown);
  for (const badRequest of error.findDetails(BadRequestSchema)) {
    for (const { field, description } of badRequest.fieldViolations) {
      console.log(`${codeName(error.code)} ${field}: ${description}`);
    }
  }
}

// A new tracking id with an email another contact has: ALREADY_EXISTS with a google.rpc.ErrorInfo detail
// whose metadata names that contact.
try {
  await client.upsertContact(
    { firmId, trackingId: "CRM-2", email: "ANN@example.com", firstName: "Ann", lastName: "Lee" },
    callOptions,
  );
} catch (thrown) {
  const error = ConnectError.from(thrown);
  const [info] = error.findDetails(ErrorInfoSchema);
  console.log(
    `${codeName(error.code)} ${info?.reason}: the email belongs to contact ${info?.metadata.contactId}`,
  );
}

/** The enum value's proto name, "UPSERT_RESULT_CREATED" (the TypeScript enum says UpsertResult.CREATED). */
function resultName(result: UpsertResult): string {
  return UpsertResultSchema.value[result]?.name ?? String(result);
}

/** gRPC's name for a code: Code.AlreadyExists is "ALREADY_EXISTS". */
function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Contact } from "../../gen/contacts/v1/contact_pb.js";
import type { ContactChange } from "../../gen/contacts/v1/contact_service_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { type BatchClient, grpcJsBatchClient } from "../support/batch-clients.js";
import { grpcJsClient, type UpsertClient } from "../support/clients.js";
import { closeSqlPool, uniqueFirm } from "../support/database.js";

// Page cursors break ties: every contact a batch writes has the batch's one commit time, and every change a
// batch records of one contact has that time too. A cursor of time alone would skip the rest of a tie at each
// page boundary, so ListContacts pages on (update_time, id) and ListContactChanges on (change_time, seq).
// Paged with sizes 1 to 3, across ties longer than a page, every contact and every change comes back once.

const TIED = 7;

let app: TestApp;
let client: UpsertClient;
let batch: BatchClient;
beforeAll(async () => {
  app = await startTestApp();
  client = grpcJsClient(app.url);
  batch = grpcJsBatchClient(app.url);
});
afterAll(async () => {
  client?.close();
  batch?.close();
  await app?.close();
  await closeSqlPool();
});

const ms = (t: Timestamp | undefined) => (t ? timestampDate(t).getTime() : Number.NaN);
const person = (i: number) => ({
  trackingId: `T${i}`,
  email: `c${i}@example.com`,
  firstName: "F",
  lastName: `${i}`,
});

async function listAll(firmId: string, pageSize: number, showDeleted: boolean): Promise<Contact[]> {
  const seen: Contact[] = [];
  let pageToken = "";
  for (let page = 0; page < 100; page++) {
    const answer = await client.list({ firmId, pageSize, pageToken, showDeleted });
    expect(answer.contacts.length).toBeLessThanOrEqual(pageSize);
    seen.push(...answer.contacts);
    if (answer.nextPageToken === "") return seen;
    pageToken = answer.nextPageToken;
  }
  throw new Error("more than 100 pages");
}

async function changesAll(firmId: string, contactId: string, pageSize: number): Promise<ContactChange[]> {
  const seen: ContactChange[] = [];
  let pageToken = "";
  for (let page = 0; page < 100; page++) {
    const answer = await client.changes({ firmId, contactId, pageSize, pageToken });
    expect(answer.changes.length).toBeLessThanOrEqual(pageSize);
    seen.push(...answer.changes);
    if (answer.nextPageToken === "") return seen;
    pageToken = answer.nextPageToken;
  }
  throw new Error("more than 100 pages");
}

describe("paging through a batch's contacts, which share one commit time", () => {
  let firmId: string;
  let ids: string[];
  beforeAll(async () => {
    firmId = uniqueFirm("ties");
    // One contact before the batch, seven in one batch, one after: times t0 < t1 (seven ties) < t2.
    const before = await client.upsert({ firmId, ...person(0) });
    const tied = await batch.batch({ firmId, requests: [1, 2, 3, 4, 5, 6, 7].map(person) });
    const after = await client.upsert({ firmId, ...person(8) });
    const batchIds = tied.results.map((r) =>
      r.outcome.case === "response" ? r.outcome.value.contact?.id : "",
    );
    ids = [before.contact?.id, ...batchIds, after.contact?.id] as string[];
    const times = tied.results.map((r) =>
      r.outcome.case === "response" ? ms(r.outcome.value.contact?.updateTime) : Number.NaN,
    );
    expect(new Set(times).size).toBe(1);
  });

  it.each([1, 2, 3])(
    "ListContacts with page size %i returns every contact exactly once",
    async (pageSize) => {
      for (const showDeleted of [false, true]) {
        const listed = (await listAll(firmId, pageSize, showDeleted)).map((c) => c.id);
        expect([...listed].sort()).toEqual([...ids].sort());
        expect(listed).toHaveLength(TIED + 2);
      }
    },
  );

  it.each([1, 2, 3])(
    "ListContacts with page size %i and updatedAfter before the batch returns the batch and the next contact once",
    async (pageSize) => {
      const [first] = await listAll(firmId, 1, false);
      const updatedAfter = first?.updateTime;
      const seen: string[] = [];
      let pageToken = "";
      do {
        const answer = await client.list({ firmId, pageSize, pageToken, updatedAfter });
        seen.push(...answer.contacts.map((c) => c.id));
        pageToken = answer.nextPageToken;
      } while (pageToken !== "");
      expect([...seen].sort()).toEqual(ids.slice(1).sort());
    },
  );
});

describe("paging through a contact's changes recorded by one batch, which share one change time", () => {
  let firmId: string;
  let contactId: string;
  beforeAll(async () => {
    firmId = uniqueFirm("ties-changes");
    const created = await client.upsert({ firmId, ...person(1) });
    contactId = created.contact?.id as string;
    // Seven items updating one contact: seven changes at one time, seq 0 to 6; then one more change later.
    await batch.batch({
      firmId,
      requests: [1, 2, 3, 4, 5, 6, 7].map((i) => ({ trackingId: "T1", city: `city-${i}` })),
    });
    await client.upsert({ firmId, trackingId: "T1", city: "city-8" });
  });

  it.each([1, 2, 3])(
    "ListContactChanges with page size %i returns every change exactly once, newest first",
    async (pageSize) => {
      const changes = await changesAll(firmId, contactId, pageSize);
      const cities = changes.map((c) => c.fields.find((f) => f.field === "city")?.newValue ?? "(created)");
      expect(cities).toEqual([8, 7, 6, 5, 4, 3, 2, 1].map((i) => `city-${i}`).concat("(created)"));
      const tiedTimes = new Set(changes.slice(1, 1 + TIED).map((c) => ms(c.changeTime)));
      expect(tiedTimes.size).toBe(1);
    },
  );
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MatchKey, UpsertResult } from "../../gen/contacts/v1/contact_service_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { allClients, type UpsertClient } from "../support/clients.js";
import { closeSqlPool, storedContacts, uniqueFirm } from "../support/database.js";

// What every upsert answer says beyond the contact: which key matched and which fields the call changed, so a
// sync can log and count its effect without diffing contacts itself.

let app: TestApp;
let clients: UpsertClient[];
beforeAll(async () => {
  app = await startTestApp();
  clients = allClients(app.url);
});
afterAll(async () => {
  for (const client of clients) client.close();
  await app.close();
  await closeSqlPool();
});

describe.each([0, 1, 2, 3, 4])("matched_by and changed_fields (client %i)", (index) => {
  const client = () => clients[index] as UpsertClient;

  it("a create matched nothing and changed every field given a value, keys included", async () => {
    const firmId = uniqueFirm();
    const created = await client().upsert({
      firmId,
      trackingId: "T-1",
      email: "ann@example.com",
      firstName: "Ann",
      lastName: "Lee",
      city: "Lyon",
      phone: "",
    });
    expect(created.result).toBe(UpsertResult.CREATED);
    expect(created.matchedBy).toBe(MatchKey.UNSPECIFIED);
    expect(created.changedFields?.paths).toEqual(["tracking_id", "email", "first_name", "last_name", "city"]);
  });

  it("an update by tracking id names the key and only the fields whose value changed", async () => {
    const firmId = uniqueFirm();
    await client().upsert({
      firmId,
      trackingId: "T-1",
      email: "a@example.com",
      firstName: "A",
      lastName: "L",
    });
    const updated = await client().upsert({
      firmId,
      trackingId: "T-1",
      email: "other@example.com", // not compared, never changed by upsert
      firstName: "A", // unchanged value
      lastName: "Lee",
      note: "hello",
    });
    expect(updated.result).toBe(UpsertResult.UPDATED);
    expect(updated.matchedBy).toBe(MatchKey.TRACKING_ID);
    expect(updated.changedFields?.paths).toEqual(["last_name", "note"]);
    const [row] = await storedContacts(firmId);
    expect(row).toMatchObject({ email: "a@example.com", last_name: "Lee", note: "hello" });
  });

  it("an update by email names the email key; clearing a field counts as a change", async () => {
    const firmId = uniqueFirm();
    await client().upsert({ firmId, email: "Bo@Example.com", firstName: "Bo", lastName: "K", city: "Oslo" });
    const updated = await client().upsert({ firmId, email: "bo@example.com", city: "" });
    expect(updated.matchedBy).toBe(MatchKey.EMAIL);
    expect(updated.changedFields?.paths).toEqual(["city"]);
    expect(updated.contact?.city).toBeUndefined();
  });

  it("a replay that changes nothing answers an empty change set and keeps update_time", async () => {
    const firmId = uniqueFirm();
    const request = { firmId, trackingId: "T-9", email: "c@example.com", firstName: "C", lastName: "D" };
    const first = await client().upsert(request);
    const again = await client().upsert(request);
    expect(again.result).toBe(UpsertResult.UPDATED);
    expect(again.matchedBy).toBe(MatchKey.TRACKING_ID);
    expect(again.changedFields?.paths ?? []).toEqual([]);
    expect(again.contact?.updateTime).toEqual(first.contact?.updateTime);
  });
});

describe("the JSON form a plain HTTP client reads", () => {
  async function post(body: unknown): Promise<Record<string, unknown>> {
    const response = await fetch(`${app.url}/contacts.v1.ContactService/UpsertContact`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as Record<string, unknown>;
  }

  it("names the enum and joins the changed fields' JSON names with commas", async () => {
    const firmId = uniqueFirm();
    const created = await post({ firmId, email: "j@example.com", firstName: "J", lastName: "K" });
    // proto3 JSON leaves a zero enum out, so a create has no matchedBy.
    expect(created.matchedBy).toBeUndefined();
    expect(created.changedFields).toBe("email,firstName,lastName");
    const updated = await post({
      firmId,
      email: "J@EXAMPLE.COM",
      zipCode: "69001",
      numberAndStreet: "1 Rue",
    });
    expect(updated.matchedBy).toBe("MATCH_KEY_EMAIL");
    expect(updated.changedFields).toBe("numberAndStreet,zipCode");
    const replay = await post({ firmId, email: "j@example.com", zipCode: "69001" });
    // An empty FieldMask is the empty string in JSON, which proto3 JSON may leave out.
    expect(replay.changedFields ?? "").toBe("");
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Contact } from "../../gen/contacts/v1/contact_pb.js";
import { FILTER_MAX_CHARS, type ListFilter } from "../../src/contacts/list-filter.js";
import { pageStatement } from "../../src/db/contact-repository.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { connectJsonH1, failure, grpcJsClient, type UpsertClient } from "../support/clients.js";
import { closeSqlPool, sql, uniqueFirm } from "../support/database.js";

// ListContacts' filter and order_by (issue 20) over grpc-js and Connect JSON: what each filter finds, newest
// first, page tokens bound to filter and order, the firm boundary, and the errors naming the field.

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app.close();
  await closeSqlPool();
});

const emails = (contacts: readonly Contact[]) => contacts.map((c) => c.email);

describe.each([
  { name: "grpc-js", make: grpcJsClient },
  { name: "connect-json-http1", make: connectJsonH1 },
])("over $name", ({ make }) => {
  let client: UpsertClient;
  let firmId: string;
  let otherFirm: string;
  beforeAll(async () => {
    client = make(app.url);
    firmId = uniqueFirm();
    otherFirm = uniqueFirm();
    // Written one after another, so each later one has a later update time.
    const people = [
      ["ann.lee@example.com", "Ann", "Lee", "crm-1"],
      ["anna.berg@example.com", "Anna", "Berg", "crm-2"],
      ["bob.annely@example.com", "Bob", "Annely", "crm-3"],
      ["jose@example.com", "José", "Ortiz", "crm-4"],
      ["pct@example.com", "100%", "Under_score", "crm-5"],
      ["carl@example.com", "Carl", "Smith", "crm-6"],
    ];
    for (const [email, firstName, lastName, trackingId] of people) {
      await client.upsert({ firmId, email, firstName, lastName, trackingId });
    }
    await client.upsert({
      firmId: otherFirm,
      email: "ann.other@example.com",
      firstName: "Ann",
      lastName: "X",
    });
  });
  afterAll(() => client.close());

  const all = async (filter: string, orderBy = "", pageSize = 0) => {
    const found: Contact[] = [];
    let pageToken = "";
    do {
      const page = await client.list({ firmId, filter, orderBy, pageSize, pageToken });
      found.push(...page.contacts);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    return emails(found);
  };

  it("newest first lists the firm's contacts by update time, descending", async () => {
    const oldest = await all("");
    expect(oldest).toHaveLength(6);
    expect(await all("", "update_time desc")).toEqual([...oldest].reverse());
    // Paged one at a time, the token carries on in the same order.
    expect(await all("", "update_time desc", 1)).toEqual([...oldest].reverse());
    // An update moves a contact to the top.
    await client.upsert({ firmId, trackingId: "crm-1", city: "Oslo" });
    expect((await all("", "update_time desc"))[0]).toBe("ann.lee@example.com");
  });

  it("email finds the firm's email identity in any case; tracking id is exact", async () => {
    expect(await all('email = "ANNA.Berg@EXAMPLE.com"')).toEqual(["anna.berg@example.com"]);
    expect(await all('email = "nobody@example.com"')).toEqual([]);
    expect(await all('tracking_id = "crm-3"')).toEqual(["bob.annely@example.com"]);
    expect(await all('tracking_id = "CRM-3"')).toEqual([]);
  });

  it("a name prefix matches first or last names, ignoring case and accents, within the firm only", async () => {
    expect((await all('name = "ann*"')).sort()).toEqual([
      "ann.lee@example.com",
      "anna.berg@example.com",
      "bob.annely@example.com",
    ]);
    expect(await all('name = "ann"')).toEqual(["ann.lee@example.com"]);
    expect(await all('name = "jose*"')).toEqual(["jose@example.com"]);
    expect(await all('name = "ORT*"')).toEqual(["jose@example.com"]);
    // LIKE's wildcards are literal.
    expect(await all('name = "100%*"')).toEqual(["pct@example.com"]);
    expect(await all('name = "1%*"')).toEqual([]);
    expect(await all('name = "under_*"')).toEqual(["pct@example.com"]);
    expect(await all('name = "unde__*"')).toEqual([]);
    expect(await all('name = "zz*"')).toEqual([]);
    // Paged one by one and newest first: same contacts, no duplicate for "Ann Annely"-like double matches.
    const prefixed = await all('name = "ann*"', "update_time desc", 1);
    expect(prefixed).toHaveLength(3);
    expect(new Set(prefixed).size).toBe(3);
    expect(prefixed).toEqual(await all('name = "ann*"', "update_time desc"));
  });

  it("a contact matching by first and last name comes once", async () => {
    await client.upsert({ firmId, email: "double@example.com", firstName: "Dora", lastName: "Dorsey" });
    expect(await all('name = "dor*"', "", 1)).toEqual(["double@example.com"]);
  });

  it("a page token only continues the filter and order it was issued for", async () => {
    const first = await client.list({ firmId, filter: 'name = "ann*"', pageSize: 1 });
    expect(first.nextPageToken).not.toBe("");
    for (const other of [
      { filter: 'name = "anna*"' },
      { filter: "" },
      { filter: 'name = "ann*"', orderBy: "update_time desc" },
    ]) {
      const failed = await failure(client.list({ firmId, pageToken: first.nextPageToken, ...other }));
      expect(failed).toMatchObject({ code: "INVALID_ARGUMENT", fields: ["pageToken"] });
    }
  });

  it("bad filters and orders are INVALID_ARGUMENT naming the field", async () => {
    for (const filter of [
      'city = "Oslo"',
      'name = "*"',
      "name = ann",
      `email = "${"a".repeat(FILTER_MAX_CHARS)}"`,
    ]) {
      expect(await failure(client.list({ firmId, filter }))).toMatchObject({
        code: "INVALID_ARGUMENT",
        fields: ["filter"],
      });
    }
    expect(await failure(client.list({ firmId, filter: 'name = "a*"', showDeleted: true }))).toMatchObject({
      code: "INVALID_ARGUMENT",
      fields: ["filter"],
    });
    expect(await failure(client.list({ firmId, orderBy: "email" }))).toMatchObject({
      code: "INVALID_ARGUMENT",
      fields: ["orderBy"],
    });
  });
});

describe("over REST", () => {
  it("filter and orderBy are query parameters of GET /v1/firms/{firm}/contacts", async () => {
    const client = grpcJsClient(app.url);
    const firmId = uniqueFirm();
    try {
      await client.upsert({ firmId, email: "a@example.com", firstName: "Ann", lastName: "Lee" });
      await client.upsert({ firmId, email: "b@example.com", firstName: "Anna", lastName: "Berg" });
      await client.upsert({ firmId, email: "c@example.com", firstName: "Carl", lastName: "Smith" });
    } finally {
      client.close();
    }
    const get = async (query: string) => {
      const response = await fetch(`${app.url}/v1/firms/${firmId}/contacts?${query}`);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const found = await get(`filter=${encodeURIComponent('name = "ann*"')}&orderBy=update_time%20desc`);
    expect(found.status).toBe(200);
    expect((found.body.contacts as { email: string }[]).map((c) => c.email)).toEqual([
      "b@example.com",
      "a@example.com",
    ]);
    const bad = await get("order_by=email");
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("orderBy");
  });
});

describe("the filters' plans", () => {
  const explain = async (filter: ListFilter, order: "asc" | "desc") => {
    const [statement, params] = pageStatement(
      { firmId: uniqueFirm(), after: null, showDeleted: false, limit: 50, filter, order },
      "c.id, c.update_time",
      "",
    );
    return sql<{ key: string | null; Extra: string | null }>(`EXPLAIN ${statement}`, params);
  };

  it("a name reads the firm's two name indexes, never the walk of the whole firm in time order", async () => {
    for (const order of ["asc", "desc"] as const) {
      const keys = (await explain({ kind: "name", text: "ann", prefix: true }, order)).map((row) => row.key);
      expect(keys).toContain("ix_contacts_firm_first_name_search");
      expect(keys).toContain("ix_contacts_firm_last_name_search");
      expect(keys).not.toContain("ix_contacts_firm_update_time");
    }
  });

  it("email and tracking id are unique-index lookups", async () => {
    // No such row: the optimizer reads the unique index as a constant and finds the WHERE impossible.
    const lookups = [
      await explain({ kind: "email", email: "a@x" }, "desc"),
      await explain({ kind: "trackingId", trackingId: "t" }, "desc"),
    ];
    for (const plan of lookups) {
      expect(plan).toHaveLength(1);
      expect(plan[0]?.Extra ?? plan[0]?.key).toMatch(/const tables|^uq_contacts_firm_/);
    }
  });
});

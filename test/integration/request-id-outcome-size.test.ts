import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batchUpsertContacts } from "../../src/contacts/batch-upsert.js";
import { ValidationError } from "../../src/contacts/errors.js";
import { REQUEST_OUTCOME_MAX_BYTES } from "../../src/contacts/request-ids.js";
import { type Database, openDatabase } from "../../src/db/database.js";
import { createTransact } from "../../src/db/transaction.js";
import { closeSqlPool, sql, TEST_DATABASE_URL, uniqueFirm } from "../support/database.js";

// A request id keeps its call's answer in one row, which must fit the database's packet: a batch whose answer is
// larger fails with INVALID_ARGUMENT naming requestId and writes nothing, instead of failing in the commit as an
// internal error on every retry. The limit is lowered here so that a small batch passes it.

let database: Database;
beforeAll(async () => {
  database = await openDatabase({
    url: TEST_DATABASE_URL,
    poolSize: 2,
    connectTimeoutMs: 5_000,
    queueLimit: 100,
  });
});
afterAll(async () => {
  await database.close();
  await closeSqlPool();
});

const items = Array.from({ length: 20 }, (_, i) => ({
  firmId: "",
  trackingId: `T${i}`,
  email: `p${i}@x.com`,
  firstName: "P",
  lastName: "Doe",
  note: "n".repeat(500),
}));

describe("a request id's answer larger than it keeps", () => {
  it("is INVALID_ARGUMENT naming requestId, writes nothing, and the batch without an id goes through", async () => {
    expect(REQUEST_OUTCOME_MAX_BYTES).toBe(6 * 1024 * 1024);
    const batch = batchUpsertContacts({
      transact: createTransact(database.dataSource),
      requestOutcomeMaxBytes: 8_000,
    });
    const firmId = uniqueFirm("outcome-size");
    const request = { firmId, items, allOrNone: false };
    const actor = { principal: "crm", requestId: "big-1" };
    const refused = await batch(request, undefined, actor).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ValidationError);
    expect((refused as ValidationError).violations.map((v) => v.field)).toEqual(["requestId"]);
    expect((refused as ValidationError).message).toMatch(/more than the 8000 a request id keeps/);
    const count = async (table: string) =>
      Number(
        (await sql<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table} WHERE firm_id = ?`, [firmId]))[0]?.n,
      );
    expect([
      await count("contacts"),
      await count("contact_changes"),
      await count("request_outcomes"),
    ]).toEqual([0, 0, 0]);

    // A small batch under the same limit keeps its answer; the large one without an id is written.
    const small = await batch({ firmId, items: items.slice(0, 2), allOrNone: false }, undefined, {
      principal: "crm",
      requestId: "small-1",
    });
    expect(small.map((r) => r.kind)).toEqual(["done", "done"]);
    expect(await count("request_outcomes")).toBe(1);
    const results = await batch(request, undefined, { principal: "crm", requestId: null });
    expect(results.filter((r) => r.kind === "done")).toHaveLength(20);
    expect(await count("contacts")).toBe(20);
  });
});

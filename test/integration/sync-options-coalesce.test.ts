import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UpsertResult } from "../../gen/contacts/v1/contact_service_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { connectJsonH1, failure, grpcJsClient, type UpsertClient } from "../support/clients.js";
import { closeSqlPool, sql, uniqueFirm } from "../support/database.js";

// With one database connection, concurrent single upserts wait and coalesce into batches (coalesce-upserts.ts).
// Dry runs and calls with a request id must not: a batch item may carry neither, and each needs its own
// transaction (rolled back, or with its outcome stored).

let app: TestApp;
let clients: UpsertClient[];
beforeAll(async () => {
  app = await startTestApp({ DB_POOL_SIZE: "1" });
  clients = [grpcJsClient(app.url), connectJsonH1(app.url)];
});
afterAll(async () => {
  for (const client of clients) client.close();
  await app.close();
  await closeSqlPool();
});

const count = async (table: string, firmId: string) =>
  Number((await sql<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table} WHERE firm_id = ?`, [firmId]))[0]?.n);

describe.each([0, 1])("under coalescing (client %i)", (index) => {
  const client = () => clients[index] as UpsertClient;

  it("concurrent dry runs, calls with ids and plain calls each get their own answer", async () => {
    const firmId = uniqueFirm("sync-coalesce");
    const person = (i: number) => ({ firmId, email: `p${i}@x.com`, firstName: `P${i}`, lastName: "Doe" });
    const previews = Array.from({ length: 15 }, (_, i) =>
      client().upsert({ ...person(i), validateOnly: true }),
    );
    const withIds = Array.from({ length: 15 }, (_, i) =>
      client().upsert({ ...person(100 + i), requestId: `r${i}` }),
    );
    const plain = Array.from({ length: 15 }, (_, i) => client().upsert(person(200 + i)));
    const emptyId = failure(client().upsert({ ...person(300), requestId: "" }));
    expect((await Promise.all(previews)).map((r) => r.result)).toEqual(
      previews.map(() => UpsertResult.CREATED),
    );
    expect((await Promise.all(withIds)).map((r) => r.result)).toEqual(
      withIds.map(() => UpsertResult.CREATED),
    );
    expect((await Promise.all(plain)).map((r) => r.result)).toEqual(plain.map(() => UpsertResult.CREATED));
    const refused = await emptyId;
    expect(refused.code).toBe("INVALID_ARGUMENT");
    expect(refused.fields).toEqual(["requestId"]);
    expect(await count("contacts", firmId)).toBe(30);
    expect(await count("request_outcomes", firmId)).toBe(15);
    const emails = await sql<{ email: string }>(
      "SELECT email FROM contacts WHERE firm_id = ? AND email REGEXP '^p[0-9]{1,2}@'",
      [firmId],
    );
    expect(emails).toEqual([]); // no preview was written
  });
});

import { fromBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UpsertResult } from "../../gen/contacts/v1/contact_service_pb.js";
import { BadRequestSchema } from "../../gen-deps/google/rpc/error_details_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import {
  type BatchClient,
  connectJsonBatchClient,
  grpcJsBatchClient,
  itemError,
} from "../support/batch-clients.js";
import { connectJsonH1, failure, grpcJsClient, type UpsertClient } from "../support/clients.js";
import { closeSqlPool, sql, storedContacts, uniqueFirm } from "../support/database.js";

// Issue 17, item 7: answers must not mislead. An error names only contacts that exist and fields as the client
// wrote them; a retry is compared by what it means; an expired request id is expired when it is read.

let app: TestApp;
let pairs: { name: string; single: UpsertClient; batch: BatchClient }[];
beforeAll(async () => {
  app = await startTestApp();
  pairs = [
    { name: "grpc-js", single: grpcJsClient(app.url), batch: grpcJsBatchClient(app.url) },
    { name: "connect-json", single: connectJsonH1(app.url), batch: connectJsonBatchClient(app.url) },
  ];
});
afterAll(async () => {
  for (const { single, batch } of pairs) {
    single.close();
    batch.close();
  }
  await app.close();
  await closeSqlPool();
});

const names = { firstName: "Ann", lastName: "Lee" };

describe.each([0, 1])("over client pair %i", (index) => {
  const pair = () => pairs[index] as (typeof pairs)[number];

  it("an all_or_none batch's EMAIL_TAKEN names the earlier item that would hold the email, not its rolled-back contact", async () => {
    const firmId = uniqueFirm("held");
    const { results } = await pair().batch.batch({
      firmId,
      allOrNone: true,
      requests: [
        { trackingId: "T1", email: "ann@example.com", ...names },
        { trackingId: "T2", email: "ANN@example.com", ...names },
      ],
    });
    const taken = itemError(results[1]);
    expect(taken?.code).toBe("ALREADY_EXISTS");
    expect(taken?.errorInfo?.reason).toBe("EMAIL_TAKEN");
    expect(taken?.errorInfo?.metadata).toEqual({ field: "email", itemIndex: "0" });
    expect(taken?.message).toMatch(/item 0 of this batch/);
    expect(itemError(results[0])?.code).toBe("ABORTED");
    expect(await storedContacts(firmId)).toEqual([]);
  });

  it("so does a validate_only batch, which writes nothing either", async () => {
    const firmId = uniqueFirm("held");
    const { results } = await pair().batch.batch({
      firmId,
      validateOnly: true,
      requests: [
        { trackingId: "T1", email: "ann@example.com", ...names },
        { trackingId: "T2", email: "ann@example.com", ...names },
      ],
    });
    expect(itemError(results[1])?.errorInfo?.metadata).toEqual({ field: "email", itemIndex: "0" });
  });

  it("a batch that writes names the holder's contact id, which GetContact then finds", async () => {
    const firmId = uniqueFirm("held");
    const { results } = await pair().batch.batch({
      firmId,
      requests: [
        { trackingId: "T1", email: "ann@example.com", ...names },
        { trackingId: "T2", email: "ann@example.com", ...names },
      ],
    });
    const holder = results[0]?.outcome.case === "response" ? results[0].outcome.value.contact?.id : undefined;
    expect(itemError(results[1])?.errorInfo?.metadata).toEqual({ field: "email", contactId: holder });
    expect((await pair().single.get({ firmId, id: holder ?? "" })).contact?.id).toBe(holder);
  });

  it("a request-id retry whose items carry the batch's own firmId (or none) is the same request", async () => {
    const firmId = uniqueFirm("spelled");
    const items = [
      { trackingId: "T1", email: "a@example.com", ...names },
      { trackingId: "T2", email: "b@example.com", ...names },
    ];
    const first = await pair().batch.batch({ firmId, requestId: "r-1", requests: items });
    const spelled = items.map((item) => ({ ...item, firmId: ` ${firmId} ` }));
    expect(await pair().batch.batch({ firmId, requestId: "r-1", requests: spelled })).toEqual(first);
    // And the other way round: first with the firm in every item, then without.
    const second = await pair().batch.batch({ firmId, requestId: "r-2", requests: spelled });
    expect(await pair().batch.batch({ firmId, requestId: "r-2", requests: items })).toEqual(second);
    expect(await storedContacts(firmId)).toHaveLength(2);
    // Another firm in an item is another request (and an invalid item).
    const other = [{ ...items[0], firmId: "someone-else" }, items[1]];
    const reused = await failure(pair().batch.batch({ firmId, requestId: "r-1", requests: other }));
    expect(reused.fields).toEqual(["requestId"]);
  });

  it("an expired request id is not replayed, even before the purge deletes it: the call runs as new", async () => {
    const firmId = uniqueFirm("expired");
    const first = await pair().single.upsert({ firmId, email: "e@example.com", ...names, requestId: "old" });
    await sql(
      "UPDATE request_outcomes SET expire_time = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND WHERE firm_id = ? AND request_id = 'old'",
      [firmId],
    );
    // Another request under the expired id is not "a different request": the id is free again.
    const again = await pair().single.upsert({
      firmId,
      email: "e@example.com",
      city: "Oslo",
      requestId: "old",
    });
    expect(again.result).toBe(UpsertResult.UPDATED);
    expect(again.contact?.id).toBe(first.contact?.id);
    expect(again.contact?.city).toBe("Oslo");
    // Its outcome is now the one kept, for a fresh REQUEST_ID_TTL_HOURS.
    expect(
      await pair().single.upsert({ firmId, email: "e@example.com", city: "Oslo", requestId: "old" }),
    ).toEqual(again);
    const [row] = await sql<{ hours: number }>(
      "SELECT TIMESTAMPDIFF(HOUR, UTC_TIMESTAMP(3), expire_time) AS hours FROM request_outcomes WHERE firm_id = ? AND request_id = 'old'",
      [firmId],
    );
    expect(row?.hours).toBe(23);
  });
});

describe("UpdateContact's mask in errors", () => {
  async function created(client: UpsertClient) {
    const firmId = uniqueFirm("mask");
    const { contact } = await client.upsert({ firmId, email: "m@example.com", ...names });
    return { firmId, id: contact?.id ?? "" };
  }

  it("over gRPC, names each refused path as sent", async () => {
    const client = pairs[0]?.single as UpsertClient;
    const { firmId, id } = await created(client);
    for (const [path, description] of [
      ["firm_id", '"firm_id" is output only'],
      ["firmId", '"firmId" is output only'],
      ["CITY", '"CITY" is not a field of Contact'],
    ]) {
      const refused = await failure(
        client.update({ firmId, contact: { id }, updateMask: { paths: [path] } }),
      );
      expect(refused.fields).toEqual(["updateMask"]);
      expect(refused.message).toBe(`updateMask: ${description}`);
    }
  });

  async function postJson(body: unknown) {
    const response = await fetch(`${app.url}/contacts.v1.ContactService/UpdateContact`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const error = (await response.json()) as {
      code: string;
      message: string;
      details?: { type: string; value: string }[];
    };
    const fields = (error.details ?? [])
      .filter((d) => d.type === "google.rpc.BadRequest")
      .flatMap((d) => fromBinary(BadRequestSchema, Buffer.from(d.value, "base64")).fieldViolations);
    return { status: response.status, code: error.code, message: error.message, fields };
  }

  it("over Connect JSON, names each refused path as the client wrote it, never protobuf-es's rewrite", async () => {
    const { firmId, id } = await created(pairs[1]?.single as UpsertClient);
    const firmPath = await postJson({ firmId, contact: { id, city: "Oslo" }, updateMask: "city,firmId" });
    expect(firmPath.status).toBe(400);
    expect(firmPath.message).toBe('updateMask: "firmId" is output only');
    expect(firmPath.fields.map((f) => f.field)).toEqual(["updateMask"]);
    const upper = await postJson({ firmId, contact: { id }, updateMask: "CITY" });
    expect(upper.message).toBe('updateMask: "CITY" is not a field of Contact');
  });

  it("over Connect JSON, a proto name in the mask is INVALID_ARGUMENT with a BadRequest naming updateMask", async () => {
    const { firmId, id } = await created(pairs[1]?.single as UpsertClient);
    for (const updateMask of ["first_name", "city,first_name"]) {
      const refused = await postJson({ firmId, contact: { id, firstName: "Q" }, updateMask });
      expect(refused.status).toBe(400);
      expect(refused.code).toBe("invalid_argument");
      expect(refused.fields.map((f) => f.field)).toEqual(["updateMask"]);
      expect(refused.message).toMatch(/^updateMask: must name fields by their JSON names in JSON/);
    }
    const notString = await postJson({ firmId, contact: { id }, updateMask: { paths: ["city"] } });
    expect(notString.fields.map((f) => f.field)).toEqual(["updateMask"]);
    expect(await storedContacts(firmId)).toMatchObject([{ first_name: "Ann" }]);
  });
});

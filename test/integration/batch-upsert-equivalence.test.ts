import { ConnectError } from "@connectrpc/connect";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Contact } from "../../gen/contacts/v1/contact_pb.js";
import { UpsertResult } from "../../gen/contacts/v1/contact_service_pb.js";
import { ErrorInfoSchema } from "../../gen-deps/google/rpc/error_details_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import {
  type BatchClient,
  connectProtoBatchClient,
  type ItemError,
  itemError,
} from "../support/batch-clients.js";
import { connectProtoH2, failure, type UpsertClient, type UpsertInit } from "../support/clients.js";
import { closeSqlPool, sql, uniqueFirm } from "../support/database.js";
import { aliases, item } from "../support/upsert-arbitrary.js";

// The batch's contract: its answer equals, item by item, what the same requests sent one by one as UpsertContact
// would answer, and it leaves the same table. Random sequences over a small key space (so items collide on
// tracking ids and on emails in other letter cases), with invalid and conflicting items, run through both; ids
// and times differ by nature and are compared by the order in which each contact first appears.

let app: TestApp;
let single: UpsertClient;
let batch: BatchClient;
beforeAll(async () => {
  app = await startTestApp();
  single = connectProtoH2(app.url);
  batch = connectProtoBatchClient(app.url);
});
afterAll(async () => {
  single.close();
  batch.close();
  await app.close();
  await closeSqlPool();
});

const ABORTED = {
  code: "ABORTED",
  message: "not written: another item of this all_or_none batch failed",
  fields: [],
  contactId: undefined,
};

type Answer =
  | { ok: { result: UpsertResult; contact: Record<string, unknown> } }
  | { error: { code: string; message: string; fields: readonly string[]; contactId?: string } };

function plainContact(contact: Contact | undefined, alias: ReturnType<typeof aliases>) {
  const {
    id,
    firmId: _f,
    createTime: _c,
    updateTime: _u,
    $typeName: _t,
    ...rest
  } = contact ?? ({} as Contact);
  return { id: alias(id), ...rest };
}

async function singleAnswers(
  firmId: string,
  items: readonly UpsertInit[],
  alias: ReturnType<typeof aliases>,
) {
  const answers: Answer[] = [];
  for (const request of items) {
    try {
      const response = await single.upsert({ ...request, firmId });
      answers.push({ ok: { result: response.result, contact: plainContact(response.contact, alias) } });
    } catch (error) {
      const f = await failure(Promise.reject(error));
      const contactId = alias(ConnectError.from(error).findDetails(ErrorInfoSchema)[0]?.metadata.contactId);
      answers.push({
        error: { code: f.code, message: f.message, fields: f.fields, ...(contactId && { contactId }) },
      });
    }
  }
  return answers;
}

async function table(firmId: string, alias: ReturnType<typeof aliases>) {
  const rows = await sql<Record<string, unknown>>("SELECT * FROM contacts WHERE firm_id = ?", [firmId]);
  return rows
    .map(({ id, firm_id: _f, create_time: _c, update_time: _u, ...rest }) => ({
      id: alias(id as string),
      ...rest,
    }))
    .sort((a, b) => String(a.id).localeCompare(String(b.id)));
}

describe("a batch answers like the same requests sent one by one", () => {
  it.each([false, true])(
    "with all_or_none %s",
    async (allOrNone) => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(item, { maxLength: 4 }),
          fc.array(item, { minLength: 1, maxLength: 10 }),
          async (seed, items) => {
            const [batchFirm, singleFirm] = [uniqueFirm("eq-batch"), uniqueFirm("eq-single")];
            const batchAlias = aliases();
            const singleAlias = aliases();
            // The same stored contacts in both firms first.
            await singleAnswers(batchFirm, seed, batchAlias);
            await singleAnswers(singleFirm, seed, singleAlias);

            const expected = await singleAnswers(singleFirm, items, singleAlias);
            const { results } = await batch.batch({ firmId: batchFirm, requests: items, allOrNone });
            const got: Answer[] = results.map((result) => {
              const error: ItemError | undefined = itemError(result);
              if (error) {
                const contactId = batchAlias(error.errorInfo?.metadata.contactId);
                return {
                  error: {
                    code: error.code,
                    message: error.message,
                    fields: error.fields,
                    ...(contactId && { contactId }),
                  },
                };
              }
              const response = result.outcome.case === "response" ? result.outcome.value : undefined;
              return {
                ok: {
                  result: response?.result ?? UpsertResult.UNSPECIFIED,
                  contact: plainContact(response?.contact, batchAlias),
                },
              };
            });
            const failed = expected.some((a) => "error" in a);
            if (allOrNone && failed) {
              // The failing items report their own error, every other item ABORTED. The ids an error names may be of
              // contacts this batch did not write, so they are left out here; and an email held by a contact an
              // earlier item would have created is named by that item (nothing was written), so the holder's half of
              // an EMAIL_TAKEN message differs from the one-by-one answer.
              const holderless = (message: string) =>
                message.replace(/^email: already belongs to .*$/, "email: already belongs to (a holder)");
              const withoutId = (a: Answer) =>
                "error" in a
                  ? { error: { ...a.error, contactId: undefined, message: holderless(a.error.message) } }
                  : a;
              expect(got.map(withoutId)).toEqual(
                expected.map(withoutId).map((a) => ("error" in a ? a : { error: ABORTED })),
              );
              // Nothing written: the batch firm holds only the seed.
              const seedOnly = uniqueFirm("eq-seed");
              const seedAlias = aliases();
              await singleAnswers(seedOnly, seed, seedAlias);
              expect(await table(batchFirm, batchAlias)).toEqual(await table(seedOnly, seedAlias));
              return;
            }
            expect(
              got.map((a) => ("error" in a ? { error: { ...a.error, contactId: undefined } } : a)),
            ).toEqual(
              expected.map((a) => ("error" in a ? { error: { ...a.error, contactId: undefined } } : a)),
            );
            expect(await table(batchFirm, batchAlias)).toEqual(await table(singleFirm, singleAlias));
          },
        ),
        { numRuns: Number(process.env.BATCH_EQUIVALENCE_RUNS ?? 25) },
      );
    },
    240_000,
  );
});

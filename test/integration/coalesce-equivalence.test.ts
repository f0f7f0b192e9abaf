import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANONYMOUS } from "../../src/contacts/actor.js";
import type { BatchItemResult, RawBatchUpsertRequest } from "../../src/contacts/batch-types.js";
import { batchUpsertContacts } from "../../src/contacts/batch-upsert.js";
import type { Contact } from "../../src/contacts/contact.js";
import { ConflictError, ValidationError } from "../../src/contacts/errors.js";
import { upsertContact } from "../../src/contacts/upsert-contact.js";
import type { UpsertOutcome } from "../../src/contacts/upsert-outcome.js";
import type { UseCase } from "../../src/contacts/use-case.js";
import type { RawUpsertRequest } from "../../src/contacts/validate-upsert.js";
import { type Database, openDatabase } from "../../src/db/database.js";
import { createTransact } from "../../src/db/transaction.js";
import { coalesceUpserts } from "../../src/rpc/coalesce-upserts.js";
import { limitFirms } from "../../src/rpc/firm-limit.js";
import { closeSqlPool, sql, TEST_DATABASE_URL, uniqueFirm } from "../support/database.js";
import { aliases, item } from "../support/upsert-arbitrary.js";

// Coalescing's contract: single upserts that waited and ran together in one batch transaction get exactly the
// answers they would have got one by one, in the order they arrived, and leave the same table. The use cases run
// in process against the real database with one slot, so the order of arrival is the order of the calls: the
// first call takes the slot, the next ones wait and coalesce. The same random sequences run once through the
// coalescing gate and once one by one (no coalescing); ids and times differ by nature and are compared by the
// order in which each contact first appears.

let database: Database;
let alone: UseCase<RawUpsertRequest, UpsertOutcome>;
let coalesced: typeof alone;
const groupSizes: number[] = [];
let beforeGroupRuns: (() => void) | undefined;

beforeAll(async () => {
  database = await openDatabase({
    url: TEST_DATABASE_URL,
    poolSize: 2,
    connectTimeoutMs: 5_000,
    queueLimit: 1_000,
  });
  const transact = createTransact(database.dataSource);
  alone = upsertContact({ transact });
  const batch: UseCase<RawBatchUpsertRequest, readonly BatchItemResult[]> = batchUpsertContacts({ transact });
  const limits = { slots: 1, perFirm: 1_000, queueLimit: 1_000, queueTimeoutMs: 60_000 };
  const countedBatch: typeof batch = (request, signal, actor) => {
    groupSizes.push(request.items.length);
    beforeGroupRuns?.();
    return batch(request, signal, actor);
  };
  coalesced = limitFirms(
    { upsertContact: alone },
    limits,
    coalesceUpserts(countedBatch, 1_000),
  ).upsertContact;
});
afterAll(async () => {
  await database.close();
  await closeSqlPool();
});

type Alias = ReturnType<typeof aliases>;

function plain(contact: Contact, alias: Alias) {
  const { id, firmId: _f, createTime: _c, updateTime: _u, ...rest } = contact;
  return { id: alias(id), ...rest };
}

/** An answer with ids named by first appearance and times left out. */
function answer(settled: PromiseSettledResult<UpsertOutcome>, alias: Alias) {
  if (settled.status === "fulfilled") {
    const { contact, ...rest } = settled.value;
    return { ok: { ...rest, contact: plain(contact, alias) } };
  }
  const error = settled.reason as Error;
  return {
    error: {
      kind: error.constructor.name,
      message: error.message,
      ...(error instanceof ValidationError && { violations: error.violations }),
      ...(error instanceof ConflictError && {
        reason: error.reason,
        contactId: alias(error.conflictingContactId),
      }),
    },
  };
}

async function table(firmId: string, alias: Alias) {
  const rows = await sql<Record<string, unknown>>("SELECT * FROM contacts WHERE firm_id = ?", [firmId]);
  return rows
    .map(({ id, firm_id: _f, create_time: _c, update_time: _u, ...rest }) => ({
      id: alias(id as string),
      ...rest,
    }))
    .sort((a, b) => String(a.id).localeCompare(String(b.id)));
}

describe("coalesced single upserts answer as if each ran alone", () => {
  it("random sequences: the same answers, in order, and the same table", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(item, { minLength: 2, maxLength: 24 }),
        fc.array(fc.constantFrom(ANONYMOUS, { principal: "crm", requestId: null }), {
          minLength: 24,
          maxLength: 24,
        }),
        async (items, actors) => {
          const [coalescedFirm, aloneFirm] = [uniqueFirm("co-group"), uniqueFirm("co-alone")];
          const [coalescedAlias, aloneAlias] = [aliases(), aliases()];
          const requests = (firmId: string) => items.map((i) => ({ ...i, firmId }) as RawUpsertRequest);

          // Every call at once: the first takes the slot, the others wait and coalesce by principal.
          const together = await Promise.allSettled(
            requests(coalescedFirm).map((r, i) => coalesced(r, undefined, actors[i])),
          );
          const oneByOne: PromiseSettledResult<UpsertOutcome>[] = [];
          for (const [i, r] of requests(aloneFirm).entries()) {
            oneByOne.push(
              await alone(r, undefined, actors[i]).then(
                (value) => ({ status: "fulfilled", value }) as const,
                (reason: unknown) => ({ status: "rejected", reason }) as const,
              ),
            );
          }
          expect(together.map((s) => answer(s, coalescedAlias))).toEqual(
            oneByOne.map((s) => answer(s, aloneAlias)),
          );
          expect(await table(coalescedFirm, coalescedAlias)).toEqual(await table(aloneFirm, aloneAlias));
        },
      ),
      { numRuns: Number(process.env.COALESCE_EQUIVALENCE_RUNS ?? 40) },
    );
    // The property held over groups that really ran together, not only over calls that ran alone.
    expect(groupSizes.filter((size) => size > 1).length).toBeGreaterThan(10);
  }, 240_000);
});

describe("a coalesced call that gives up after its group started", () => {
  it("is not written, and the calls after it answer as if it had never been sent", async () => {
    const firmId = uniqueFirm("co-quit");
    const quitter = new AbortController();
    // The group has started (its batch is being called) when the call's deadline passes: before the writes.
    beforeGroupRuns = () => quitter.abort(new Error("deadline"));
    try {
      const calls = [
        coalesced({ firmId, email: "first@x.com", firstName: "F", lastName: "One" }),
        coalesced(
          { firmId, trackingId: "Q", email: "q@x.com", firstName: "Quit", lastName: "Ter" },
          quitter.signal,
        ),
        coalesced({ firmId, trackingId: "Q", firstName: "Kept" }),
      ];
      const [first, quit, after] = await Promise.allSettled(calls);
      expect(first.status).toBe("fulfilled");
      expect(quit.status === "rejected" && (quit.reason as Error).message).toBe("deadline");
      // Alone, the second call would have rolled back; the third then finds no contact Q and, with no email, fails.
      expect(after.status === "rejected" && after.reason).toBeInstanceOf(ValidationError);
    } finally {
      beforeGroupRuns = undefined;
    }
    const rows = await sql<{ email: string }>("SELECT email FROM contacts WHERE firm_id = ? ORDER BY email", [
      firmId,
    ]);
    expect(rows.map((r) => r.email)).toEqual(["first@x.com"]);
    const changes = await sql<{ n: number }>("SELECT COUNT(*) AS n FROM contact_changes WHERE firm_id = ?", [
      firmId,
    ]);
    expect(Number(changes[0]?.n)).toBe(1);
  });
});

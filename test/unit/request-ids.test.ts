import { describe, expect, it } from "vitest";
import type { ContactStore, Transact } from "../../src/contacts/contact-store.js";
import { ConflictError, ContentionError, ValidationError } from "../../src/contacts/errors.js";
import {
  batchFingerprint,
  checkedRequestId,
  requestIdProblem,
  spelledBatchFingerprint,
  transactOnce,
  upsertFingerprint,
} from "../../src/contacts/request-ids.js";
import type { StoredOutcome } from "../../src/contacts/request-key.js";

describe("request ids", () => {
  it("accept 1 to 64 code points of text, compared exactly", () => {
    expect(requestIdProblem("a")).toBeUndefined();
    expect(requestIdProblem("😀".repeat(64))).toBeUndefined();
    expect(requestIdProblem(" padded ")).toBeUndefined();
    expect(requestIdProblem("")).toBe("must not be empty when present");
    expect(requestIdProblem("x".repeat(65))).toBe("must be at most 64 characters");
    expect(requestIdProblem("a\u0000b")).toMatch(/control characters/);
    expect(requestIdProblem("\uD800")).toBe("is not valid Unicode text");
    expect(checkedRequestId(undefined)).toBeNull();
    expect(() => checkedRequestId("")).toThrow(ValidationError);
  });

  it("fingerprint a request by its meaning: trimmed values, absent as null, the method included", () => {
    const a = upsertFingerprint({ firmId: "f", trackingId: " T-1 ", city: "Oslo" });
    expect(upsertFingerprint({ firmId: "f ", trackingId: "T-1", city: " Oslo" })).toBe(a);
    expect(upsertFingerprint({ firmId: "f", trackingId: "T-1", city: "" })).not.toBe(a);
    expect(upsertFingerprint({ firmId: "f", trackingId: "T-1" })).not.toBe(a);
    const batch = batchFingerprint({
      firmId: "f",
      allOrNone: false,
      items: [{ firmId: "", trackingId: "T-1", city: "Oslo" }],
    });
    expect(batch).not.toBe(a);
    expect(
      batchFingerprint({
        firmId: "f",
        allOrNone: true,
        items: [{ firmId: "", trackingId: "T-1", city: "Oslo" }],
      }),
    ).not.toBe(batch);
  });

  it("fingerprint a batch item's firmId by meaning: the batch's own (trimmed) is the same as none", () => {
    const items = (firmId: string) => [{ firmId, trackingId: "T-1" }];
    const bare = batchFingerprint({ firmId: "f", allOrNone: false, items: items("") });
    expect(batchFingerprint({ firmId: "f", allOrNone: false, items: items("f") })).toBe(bare);
    expect(batchFingerprint({ firmId: " f", allOrNone: false, items: items("f ") })).toBe(bare);
    expect(batchFingerprint({ firmId: "f", allOrNone: false, items: items("g") })).not.toBe(bare);
    // Outcomes stored before keep their fingerprint, the request as spelled: equal to today's for empty items.
    expect(spelledBatchFingerprint({ firmId: "f", allOrNone: false, items: items("") })).toBe(bare);
    expect(spelledBatchFingerprint({ firmId: "f", allOrNone: false, items: items("f") })).not.toBe(bare);
  });
});

/** A Transact over an in-memory request-outcome table: enough to check what transactOnce stores and replays. */
function memoryTransact() {
  const table = new Map<string, StoredOutcome>();
  let runs = 0;
  const transact: Transact = async (work) => {
    let pending: StoredOutcome | undefined;
    let key = "";
    const store = {
      async claimRequestId(k) {
        key = `${k.firmId}/${k.requestId}`;
        return table.get(key) ?? null;
      },
      async saveRequestOutcome(k, outcome) {
        pending = { fingerprint: k.fingerprint, outcome, tick: null };
      },
    } as Partial<ContactStore> as ContactStore;
    const value = await work(store);
    if (pending) table.set(key, pending);
    runs++;
    return { value, tick: null };
  };
  return { transact, table, runs: () => runs };
}

describe("transactOnce", () => {
  const once = (transact: Transact, fingerprint = "fp") => ({
    transact,
    ttlHours: 24,
    firmId: "f",
    requestId: "r",
    fingerprint: () => fingerprint,
    dryRun: false,
  });

  it("stores a value with its dates and replays it without running the work again", async () => {
    const memory = memoryTransact();
    let worked = 0;
    const work = async () => {
      worked++;
      return { at: new Date(5), list: [1, null], none: undefined };
    };
    const first = await transactOnce(once(memory.transact), work);
    const again = await transactOnce(once(memory.transact), work);
    expect(again.value).toEqual({ at: new Date(5), list: [1, null] });
    expect(first.value.at).toEqual(new Date(5));
    expect(worked).toBe(1);
  });

  it("stores definitive errors and throws them again; transient ones are not stored", async () => {
    const memory = memoryTransact();
    const conflict = new ConflictError("taken", "EMAIL_TAKEN", "email", "c-1");
    await expect(transactOnce(once(memory.transact), () => Promise.reject(conflict))).rejects.toBe(conflict);
    const replayed = await transactOnce(once(memory.transact), () => Promise.resolve(1)).catch((e) => e);
    expect(replayed).toBeInstanceOf(ConflictError);
    expect(replayed).toMatchObject({ message: "taken", reason: "EMAIL_TAKEN", conflictingContactId: "c-1" });
    const inBatch = new ConflictError("taken", "EMAIL_TAKEN", "email", undefined, 3);
    const batchMemory = memoryTransact();
    await transactOnce(once(batchMemory.transact), () => Promise.reject(inBatch)).catch(() => undefined);
    const again = await transactOnce(once(batchMemory.transact), () => Promise.resolve(1)).catch((e) => e);
    expect(again).toMatchObject({ conflictingContactId: undefined, conflictingItemIndex: 3 });

    const other = memoryTransact();
    await expect(
      transactOnce(once(other.transact), () => Promise.reject(new ContentionError(3))),
    ).rejects.toBeInstanceOf(ContentionError);
    expect(other.table.size).toBe(0);
  });

  it("refuses the id for another request, naming requestId", async () => {
    const memory = memoryTransact();
    await transactOnce(once(memory.transact, "a"), () => Promise.resolve(1));
    const error = await transactOnce(once(memory.transact, "b"), () => Promise.resolve(2)).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.violations.map((v: { field: string }) => v.field)).toEqual(["requestId"]);
  });

  it("replays an outcome stored under the request's former fingerprint, so older outcomes keep matching", async () => {
    const memory = memoryTransact();
    await transactOnce(once(memory.transact, "old"), () => Promise.resolve(1));
    const retry = { ...once(memory.transact, "new"), formerFingerprint: () => "old" };
    expect((await transactOnce(retry, () => Promise.resolve(2))).value).toBe(1);
    const other = { ...once(memory.transact, "new"), formerFingerprint: () => "older" };
    await expect(transactOnce(other, () => Promise.resolve(2))).rejects.toBeInstanceOf(ValidationError);
  });
});

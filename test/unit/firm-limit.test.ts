import { describe, expect, it } from "vitest";
import { OverloadedError } from "../../src/contacts/errors.js";
import type { UpsertOutcome } from "../../src/contacts/upsert-outcome.js";
import type { RawUpsertRequest } from "../../src/contacts/validate-upsert.js";
import type { Coalescing } from "../../src/rpc/coalescing.js";
import type { ContactUseCases } from "../../src/rpc/contact-service.js";
import { FirmBusyError, type FirmLimits, limitFirms } from "../../src/rpc/firm-limit.js";

/** A use case whose calls finish only when the test says so, recording the order in which they started. */
function heldUseCase() {
  const started: string[] = [];
  const finishers: (() => void)[] = [];
  const useCases: Pick<ContactUseCases, "upsertContact"> = {
    upsertContact: (request) =>
      new Promise<UpsertOutcome>((resolve) => {
        started.push(`${request.firmId}:${request.trackingId}`);
        finishers.push(() => resolve({} as UpsertOutcome));
      }),
  };
  /** Finishes the oldest running call and lets the gate hand its slot on. */
  const finishOne = async () => {
    await new Promise((resolve) => setTimeout(resolve, 0));
    finishers.shift()?.();
    await new Promise((resolve) => setTimeout(resolve, 0));
  };
  return { useCases, started, finishOne };
}

const LIMITS: FirmLimits = { slots: 2, perFirm: 5, queueLimit: 100, queueTimeoutMs: 60_000 };
const call = (
  limited: Pick<ContactUseCases, "upsertContact">,
  firmId: string,
  n: number,
  signal?: AbortSignal,
) => limited.upsertContact({ firmId, trackingId: String(n) }, signal);
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("limitFirms", () => {
  it("runs at most `slots` calls at once and hands a freed slot to the next firm in turn, not to the flood's backlog", async () => {
    const { useCases, started, finishOne } = heldUseCase();
    const limited = limitFirms(useCases, LIMITS);
    const flood = [1, 2, 3, 4, 5].map((n) => call(limited, "a", n));
    await settle();
    const quiet = call(limited, "b", 1);
    await settle();
    expect(started).toEqual(["a:1", "a:2"]);
    await finishOne();
    // a:3..a:5 came first, but b, with no call running, goes before a, which has one.
    expect(started).toEqual(["a:1", "a:2", "b:1"]);
    for (let i = 0; i < 4; i++) await finishOne();
    expect(started).toEqual(["a:1", "a:2", "b:1", "a:3", "a:4", "a:5"]);
    await finishOne();
    await finishOne();
    await Promise.all([...flood, quiet]);
  });

  it("refuses a firm's call beyond `perFirm` running or waiting with FirmBusyError, at once, other firms unaffected", async () => {
    const { useCases, finishOne } = heldUseCase();
    const limited = limitFirms(useCases, { ...LIMITS, perFirm: 3 });
    const admitted = [1, 2, 3].map((n) => call(limited, "a", n));
    await expect(call(limited, "a", 4)).rejects.toBeInstanceOf(FirmBusyError);
    await expect(call(limited, " a ", 5)).rejects.toBeInstanceOf(FirmBusyError); // the firm as validated
    const other = call(limited, "b", 1);
    for (let i = 0; i < 4; i++) await finishOne();
    await Promise.all([...admitted, other]);
    // Once its calls ended, the firm may call again.
    const again = call(limited, "a", 6);
    await finishOne();
    await again;
  });

  it("sheds a call that waited `queueTimeoutMs` with UnavailableError, and one beyond `queueLimit` at once", async () => {
    const { useCases, started, finishOne } = heldUseCase();
    const limited = limitFirms(useCases, { ...LIMITS, queueLimit: 1, queueTimeoutMs: 30 });
    const running = [call(limited, "a", 1), call(limited, "b", 1)];
    const waiting = call(limited, "c", 1);
    await expect(call(limited, "d", 1)).rejects.toThrow(/DB_QUEUE_LIMIT/);
    await expect(waiting).rejects.toBeInstanceOf(OverloadedError);
    await expect(waiting).rejects.toThrow(/DB_QUEUE_TIMEOUT_MS/);
    await finishOne();
    await finishOne();
    await Promise.all(running);
    expect(started).toEqual(["a:1", "b:1"]); // the shed calls never ran
  });

  it("gives up waiting when the caller's signal aborts, with its reason, and never runs the call", async () => {
    const { useCases, started, finishOne } = heldUseCase();
    const limited = limitFirms(useCases, LIMITS);
    const running = [call(limited, "a", 1), call(limited, "a", 2)];
    const caller = new AbortController();
    const waiting = call(limited, "b", 1, caller.signal);
    caller.abort(new Error("deadline"));
    await expect(waiting).rejects.toThrow("deadline");
    await finishOne();
    await finishOne();
    await Promise.all(running);
    expect(started).toEqual(["a:1", "a:2"]);
  });
});

/** A held use case plus a coalescing whose groups key on firm and principal and finish when the test says so. */
function coalescingUseCase(maxCalls = 100) {
  const held = heldUseCase();
  const groups: string[][] = [];
  const finishGroup: ((fail?: Error) => void)[] = [];
  const coalescing: Coalescing<RawUpsertRequest, UpsertOutcome> = {
    useCase: "upsertContact",
    maxCalls,
    key: (request, actor) =>
      request.trackingId === "bad" ? undefined : `${request.firmId}/${actor?.principal}`,
    run: (requests) =>
      new Promise((resolve, reject) => {
        groups.push(requests.map((r) => `${r.firmId}:${r.trackingId}`));
        finishGroup.push((fail) =>
          fail
            ? reject(fail)
            : resolve(
                requests.map((r) =>
                  r.trackingId === "conflict"
                    ? { ok: false, error: new Error(`item ${r.trackingId}`) }
                    : {
                        ok: true,
                        value: { result: "created", trackingId: r.trackingId } as unknown as UpsertOutcome,
                      },
                ),
              ),
        );
      }),
  };
  return { ...held, groups, finishGroup, coalescing };
}

const actor = (principal: string) => ({ principal, requestId: null });
const upsert = (
  limited: Pick<ContactUseCases, "upsertContact">,
  firmId: string,
  trackingId: string,
  options: { signal?: AbortSignal; principal?: string } = {},
) => limited.upsertContact({ firmId, trackingId }, options.signal, actor(options.principal ?? "crm"));

describe("limitFirms with coalescing", () => {
  const ONE_SLOT: FirmLimits = { ...LIMITS, slots: 1, perFirm: 100 };

  it("runs a call that finds a free slot alone, and runs the calls that waited as one group, in arrival order", async () => {
    const { useCases, started, finishOne, groups, finishGroup, coalescing } = coalescingUseCase();
    const limited = limitFirms(useCases, ONE_SLOT, coalescing);
    const first = upsert(limited, "a", "1");
    const waiting = ["2", "3", "conflict", "4"].map((n) => upsert(limited, "a", n));
    await settle();
    expect(started).toEqual(["a:1"]);
    expect(groups).toEqual([]);
    await finishOne();
    expect(groups).toEqual([["a:2", "a:3", "a:conflict", "a:4"]]);
    finishGroup[0]?.();
    await first;
    const answers = await Promise.allSettled(waiting);
    // Each call gets its own item's answer: the failing item fails only its call.
    expect(
      answers.map((a) =>
        a.status === "fulfilled"
          ? (a.value as unknown as { trackingId: string }).trackingId
          : (a.reason as Error).message,
      ),
    ).toEqual(["2", "3", "item conflict", "4"]);
  });

  it("groups only calls with the same key that wait next to each other, and at most `maxCalls` per group", async () => {
    const { useCases, started, finishOne, groups, finishGroup, coalescing } = coalescingUseCase(2);
    const limited = limitFirms(useCases, ONE_SLOT, coalescing);
    const calls = [
      upsert(limited, "a", "1"),
      upsert(limited, "a", "2"),
      upsert(limited, "a", "3", { principal: "other" }),
      upsert(limited, "a", "bad"), // no key: waits and runs alone, and closes the group before it
      upsert(limited, "a", "4"),
      upsert(limited, "a", "5"),
      upsert(limited, "a", "6"),
    ];
    // Slot handovers in turn: 1 alone, [2] alone (a group of one runs the call's own use case), [3], bad, [4,5], [6].
    await finishOne(); // 1
    await finishOne(); // 2
    await finishOne(); // 3
    await finishOne(); // bad
    expect(started).toEqual(["a:1", "a:2", "a:3", "a:bad"]);
    expect(groups).toEqual([["a:4", "a:5"]]);
    finishGroup[0]?.();
    await settle();
    await finishOne(); // 6
    await Promise.all(calls);
    expect(started).toEqual(["a:1", "a:2", "a:3", "a:bad", "a:6"]);
  });

  it("drops a waiting member that aborts (its reason, never run), and fails every member when the group's run fails", async () => {
    const { useCases, finishOne, groups, finishGroup, coalescing } = coalescingUseCase();
    const limited = limitFirms(useCases, ONE_SLOT, coalescing);
    const first = upsert(limited, "a", "1");
    const caller = new AbortController();
    const quitter = upsert(limited, "a", "2", { signal: caller.signal });
    const stayers = [upsert(limited, "a", "3"), upsert(limited, "a", "4")];
    caller.abort(new Error("deadline"));
    await expect(quitter).rejects.toThrow("deadline");
    await finishOne();
    expect(groups).toEqual([["a:3", "a:4"]]);
    finishGroup[0]?.(new Error("database down"));
    await first;
    for (const s of stayers) await expect(s).rejects.toThrow("database down");
  });

  it("sheds a whole group that waited `queueTimeoutMs`, counts each member against `queueLimit` and `perFirm`", async () => {
    const { useCases, started, finishOne, groups, coalescing } = coalescingUseCase();
    const limited = limitFirms(
      useCases,
      { ...ONE_SLOT, perFirm: 3, queueLimit: 2, queueTimeoutMs: 30 },
      coalescing,
    );
    const first = upsert(limited, "a", "1");
    const waiting = [upsert(limited, "a", "2"), upsert(limited, "a", "3")];
    await expect(upsert(limited, "a", "4")).rejects.toBeInstanceOf(FirmBusyError);
    await expect(upsert(limited, "b", "1")).rejects.toThrow(/DB_QUEUE_LIMIT/);
    for (const w of waiting) await expect(w).rejects.toThrow(/DB_QUEUE_TIMEOUT_MS/);
    await finishOne();
    await first;
    expect(started).toEqual(["a:1"]);
    expect(groups).toEqual([]);
  });
});

describe("limitFirms with coalescing, leaving a group", () => {
  const ONE_SLOT: FirmLimits = { ...LIMITS, slots: 1, perFirm: 100 };

  it("times each member from its own arrival: a late joiner is not shed with the group's first member", async () => {
    const { useCases, started, finishOne, groups, coalescing } = coalescingUseCase();
    const limited = limitFirms(useCases, { ...ONE_SLOT, queueTimeoutMs: 80 }, coalescing);
    const first = upsert(limited, "a", "1");
    const early = upsert(limited, "a", "2");
    await new Promise((resolve) => setTimeout(resolve, 50));
    const late = upsert(limited, "a", "3");
    await expect(early).rejects.toThrow(/DB_QUEUE_TIMEOUT_MS/);
    await finishOne(); // the slot passes to the group, which holds only the late call: it runs alone
    expect(started).toEqual(["a:1", "a:3"]);
    expect(groups).toEqual([]);
    await finishOne();
    await Promise.all([first, late]);
  });

  it("a group all of whose members left leaves the queue, and a new call does not join it", async () => {
    const { useCases, started, finishOne, groups, coalescing } = coalescingUseCase();
    const limited = limitFirms(useCases, ONE_SLOT, coalescing);
    const first = upsert(limited, "a", "1");
    const [c1, c2] = [new AbortController(), new AbortController()];
    const quitters = [
      upsert(limited, "a", "2", { signal: c1.signal }),
      upsert(limited, "a", "3", { signal: c2.signal }),
    ];
    c1.abort(new Error("gone"));
    c2.abort(new Error("gone"));
    for (const q of quitters) await expect(q).rejects.toThrow("gone");
    const next = upsert(limited, "a", "4");
    await finishOne();
    expect(started).toEqual(["a:1", "a:4"]);
    expect(groups).toEqual([]);
    await finishOne();
    await Promise.all([first, next]);
  });
});

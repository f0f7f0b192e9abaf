import { describe, expect, it } from "vitest";
import { OverloadedError } from "../../src/contacts/errors.js";
import type { UpsertOutcome } from "../../src/contacts/upsert-contact.js";
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

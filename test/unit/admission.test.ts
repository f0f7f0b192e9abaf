import { describe, expect, it } from "vitest";
import { OverloadedError } from "../../src/contacts/errors.js";
import { createAdmission } from "../../src/rpc/admission.js";
import { fairQueue } from "../../src/rpc/fair-queue.js";

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("createAdmission", () => {
  it("runs `slots` calls at once; a freed slot passes to a waiter, and frees once nobody waits", async () => {
    const admission = createAdmission({ slots: 1, queueLimit: 10, queueTimeoutMs: 60_000 }, fairQueue());
    await admission.acquire("a", undefined);
    expect(admission.busy()).toBe(true);
    let granted = false;
    const second = admission.acquire("b", undefined).then(() => {
      granted = true;
    });
    await settle();
    expect(granted).toBe(false);
    admission.release("a");
    await second;
    expect(admission.busy()).toBe(true);
    admission.release("b");
    expect(admission.busy()).toBe(false);
  });

  it("sheds a call past queueLimit at once, and one that waited queueTimeoutMs, with OverloadedError", async () => {
    const admission = createAdmission({ slots: 1, queueLimit: 1, queueTimeoutMs: 50 }, fairQueue());
    await admission.acquire("a", undefined);
    const waiting = admission.acquire("a", undefined);
    await expect(admission.acquire("b", undefined)).rejects.toThrow(/DB_QUEUE_LIMIT/);
    await expect(waiting).rejects.toBeInstanceOf(OverloadedError);
    // The timed-out waiter left the queue: there is room again.
    expect(admission.queueFull()).toBeUndefined();
  });

  it("an aborted wait leaves the queue with the abort reason and never takes the slot", async () => {
    const admission = createAdmission({ slots: 1, queueLimit: 5, queueTimeoutMs: 60_000 }, fairQueue());
    await admission.acquire("a", undefined);
    const abort = new AbortController();
    const waiting = admission.acquire("b", abort.signal);
    abort.abort(new Error("client left"));
    await expect(waiting).rejects.toThrow("client left");
    admission.release("a");
    expect(admission.busy()).toBe(false);
  });
});

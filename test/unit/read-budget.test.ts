import { describe, expect, it } from "vitest";
import { createReadBudget } from "../../src/contacts/read-budget.js";

const settled = async (promise: Promise<unknown>) => {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
};

describe("createReadBudget", () => {
  it("admits reads while their bytes fit, then in arrival order as bytes are released", async () => {
    const budget = createReadBudget(10);
    const first = await budget.acquire(6);
    const second = budget.acquire(6);
    const third = budget.acquire(1);
    // The small read waits behind the large one, so the large one cannot starve.
    expect(await settled(second)).toBe(false);
    expect(await settled(third)).toBe(false);
    first();
    first(); // a second release gives nothing back twice
    expect(await settled(second)).toBe(true);
    expect(await settled(third)).toBe(true);
    const fourth = budget.acquire(4);
    expect(await settled(fourth)).toBe(false);
    (await second)();
    expect(await settled(fourth)).toBe(true);
  });

  it("admits a read larger than the whole budget alone, as the whole budget", async () => {
    const budget = createReadBudget(10);
    const huge = await budget.acquire(50);
    const next = budget.acquire(1);
    expect(await settled(next)).toBe(false);
    huge();
    expect(await settled(next)).toBe(true);
  });

  it("gives up a wait when the call's signal aborts, and lets those behind it in", async () => {
    const budget = createReadBudget(10);
    const held = await budget.acquire(8);
    const controller = new AbortController();
    const large = budget.acquire(5, controller.signal);
    const small = budget.acquire(2);
    controller.abort(new Error("deadline"));
    await expect(large).rejects.toThrow("deadline");
    expect(await settled(small)).toBe(true);
    held();
    await expect(budget.acquire(1, AbortSignal.abort(new Error("gone")))).rejects.toThrow("gone");
  });
});

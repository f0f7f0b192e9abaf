import { describe, expect, it } from "vitest";
import { fairQueue, type Waiter } from "../../src/rpc/fair-queue.js";

const waiter = (firm: string, name: string): Waiter & { name: string } => ({
  firm,
  name,
  weight: () => 1,
  grant: () => {},
});
const names = (queue: ReturnType<typeof fairQueue>, n: number) =>
  Array.from({ length: n }, () => (queue.next() as ReturnType<typeof waiter> | undefined)?.name);

describe("fairQueue", () => {
  it("gives the turn to the waiting firm with the fewest calls running, round robin between equals", () => {
    const queue = fairQueue();
    queue.started("a");
    queue.started("a");
    for (const name of ["a1", "a2", "a3"]) queue.enqueue(waiter("a", name));
    queue.enqueue(waiter("b", "b1"));
    queue.enqueue(waiter("c", "c1"));
    queue.enqueue(waiter("b", "b2"));
    // b and c run nothing: b (earlier in turn), then c; then b (one running) ties with c, ... a last.
    expect(names(queue, 6)).toEqual(["b1", "c1", "b2", "a1", "a2", "a3"]);
    expect(queue.next()).toBeUndefined();
  });

  it("a withdrawn waiter leaves its queue, and its firm the turns once its queue is empty", () => {
    const queue = fairQueue();
    const [a1, b1] = [waiter("a", "a1"), waiter("b", "b1")];
    queue.enqueue(a1);
    queue.enqueue(b1);
    expect(queue.last("a")).toBe(a1);
    expect(queue.withdraw(a1)).toBe(true);
    expect(queue.withdraw(a1)).toBe(false);
    expect(queue.last("a")).toBeUndefined();
    expect(names(queue, 2)).toEqual(["b1", undefined]);
  });

  it("finished calls count down: a firm whose calls ended is served before one still running", () => {
    const queue = fairQueue();
    queue.started("a");
    queue.started("b");
    queue.enqueue(waiter("a", "a1"));
    queue.enqueue(waiter("b", "b1"));
    queue.finished("b");
    expect(names(queue, 2)).toEqual(["b1", "a1"]);
  });
});

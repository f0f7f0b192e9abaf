import { afterEach, describe, expect, it } from "vitest";
import type { RecordedChange } from "../../src/contacts/history-entry.js";
import { type ChangeFeed, startChangeFeed } from "../../src/feed/change-feed.js";
import { FeedClosedError, SlowReaderError } from "../../src/feed/feed-errors.js";
import type { FeedMessage } from "../../src/feed/feed-messages.js";
import type { FeedStore } from "../../src/feed/feed-store.js";
import { createLogger } from "../../src/logger.js";

/** An in-memory FeedStore that counts its statements. */
function fakeStore() {
  const changes: RecordedChange[] = [];
  const clocks = new Map<string, Date>();
  const statements = { clocks: 0, changes: 0 };
  let tick = 1_000;
  const store: FeedStore = {
    async readClocks(firmIds) {
      statements.clocks++;
      return new Map(firmIds.flatMap((f) => (clocks.has(f) ? [[f, clocks.get(f) as Date]] : [])));
    },
    async readChanges(firmId, after, upTo, limit) {
      statements.changes++;
      return changes
        .filter((c) => c.principal === firmId && c.changeTime > after && c.changeTime <= upTo)
        .slice(0, limit);
    },
  };
  /** Commits one transaction of `n` changes to the firm. */
  const commit = (firmId: string, n = 1) => {
    const time = new Date(++tick);
    for (let seq = 0; seq < n; seq++) {
      changes.push({
        contactId: `c${tick}-${seq}`,
        kind: "created",
        fields: [],
        changeTime: time,
        seq,
        principal: firmId, // the fake keeps the firm here
        requestId: null,
      });
    }
    clocks.set(firmId, time);
  };
  return { store, commit, statements };
}

const options = { pollMs: 20, heartbeatMs: 60_000, maxBacklog: 10, readLimit: 100, messageChanges: 50 };
const start = { after: undefined, horizon: new Date(0), retentionDays: 30 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Pulls messages from a watch into an array until it ends; returns the end (undefined, or the error). */
function drain(watch: AsyncGenerator<FeedMessage>, into: FeedMessage[]): Promise<unknown> {
  return (async () => {
    try {
      for await (const message of watch) into.push(message);
      return undefined;
    } catch (error) {
      return error;
    }
  })();
}

let feed: ChangeFeed | undefined;
afterEach(async () => {
  await feed?.close();
  feed = undefined;
});

describe("the change feed", () => {
  it("reads a firm's new changes once per poll however many watch it, and gives each watcher all of them", async () => {
    const { store, commit, statements } = fakeStore();
    commit("f");
    feed = startChangeFeed(store, options, createLogger("silent"));
    const stop = new AbortController();
    const received: FeedMessage[][] = [];
    const ends = [];
    for (let i = 0; i < 50; i++) {
      received.push([]);
      ends.push(drain(feed.watch("f", start, stop.signal), received[i] as FeedMessage[]));
    }
    await sleep(100);
    const before = { ...statements };
    for (let n = 0; n < 5; n++) {
      commit("f", 3);
      feed.notify("f");
      await sleep(40);
    }
    await sleep(100);
    // Five transactions: at most five reads of changes for fifty watchers.
    expect(statements.changes - before.changes).toBeLessThanOrEqual(5);
    for (const messages of received) {
      const changes = messages.flatMap((m) => m.changes);
      expect(changes.length).toBe(15);
      expect(new Set(changes.map((c) => c.contactId)).size).toBe(15);
    }
    stop.abort();
    expect(await Promise.all(ends)).toEqual(ends.map(() => undefined));
  });

  it("an idle feed costs one clock read per poll, whatever the number of watchers and firms", async () => {
    const { store, commit, statements } = fakeStore();
    feed = startChangeFeed(store, { ...options, pollMs: 100 }, createLogger("silent"));
    const stop = new AbortController();
    const ends = [];
    for (let i = 0; i < 500; i++) {
      commit(`firm-${i % 50}`);
      ends.push(drain(feed.watch(`firm-${i % 50}`, start, stop.signal), []));
    }
    await sleep(300);
    const before = { ...statements };
    await sleep(1_000);
    const perSecond = {
      clocks: statements.clocks - before.clocks,
      changes: statements.changes - before.changes,
    };
    console.log(
      `idle feed, 500 watchers over 50 firms, FEED_POLL_MS=100: ${perSecond.clocks} clock reads/s, ${perSecond.changes} change reads/s`,
    );
    expect(perSecond.clocks).toBeGreaterThanOrEqual(8);
    expect(perSecond.clocks).toBeLessThanOrEqual(11);
    expect(perSecond.changes).toBe(0);
    stop.abort();
    await Promise.all(ends);
    // With no watcher, nothing at all.
    const after = { ...statements };
    await sleep(300);
    expect(statements).toEqual(after);
  });

  it("a watcher that stops reading is cut off past maxBacklog, its backlog dropped, and ends with SlowReaderError", async () => {
    const { store, commit } = fakeStore();
    feed = startChangeFeed(store, options, createLogger("silent"));
    const stop = new AbortController();
    const slow = feed.watch("f", start, stop.signal);
    const fast: FeedMessage[] = [];
    const fastEnd = drain(feed.watch("f", start, stop.signal), fast);
    const first = slow.next(); // opens the watch; nothing more is read from it for now
    await sleep(60);
    for (let n = 0; n < 4; n++) {
      commit("f", 4);
      feed.notify("f");
      await sleep(40);
    }
    await first;
    // Nothing queued survives the cut: the next read ends the stream.
    const end = await drain(slow, []);
    expect(end).toBeInstanceOf(SlowReaderError);
    // The other watcher of the firm is not affected.
    expect(fast.flatMap((m) => m.changes).length).toBe(16);
    stop.abort();
    expect(await fastEnd).toBeUndefined();
  });

  it("close ends every watch with FeedClosedError", async () => {
    const { store } = fakeStore();
    feed = startChangeFeed(store, options, createLogger("silent"));
    const end = drain(feed.watch("f", start, new AbortController().signal), []);
    await sleep(50);
    await feed.close();
    expect(await end).toBeInstanceOf(FeedClosedError);
  });
});

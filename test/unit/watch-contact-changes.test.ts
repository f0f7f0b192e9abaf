import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen-deps/google/rpc/error_details_pb.js";
import { ValidationError } from "../../src/contacts/errors.js";
import type { ChangeFeed } from "../../src/feed/change-feed.js";
import {
  FeedClosedError,
  FeedLimitError,
  HistoryExpiredError,
  SlowReaderError,
} from "../../src/feed/feed-errors.js";
import type { FeedMessage } from "../../src/feed/feed-messages.js";
import { type WatchMessage, watchContactChanges } from "../../src/feed/watch-contact-changes.js";
import { toConnectError } from "../../src/rpc/error-mapping.js";

const key = Buffer.alloc(32, 7);
const limits = { maxStreams: 3, maxStreamsPerFirm: 2, retentionDays: 30 };

/** A feed that yields the given messages, then throws `end` (or waits for the signal). */
function fakeFeed(messages: FeedMessage[], end?: Error): ChangeFeed & { starts: (Date | undefined)[] } {
  const starts: (Date | undefined)[] = [];
  return {
    starts,
    async *watch(_firm, start, signal) {
      starts.push(start.after);
      yield* messages;
      if (end) throw end;
      await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
    },
    notify: () => undefined,
    close: async () => undefined,
  };
}
const raw = (firmId: string, resumeToken = "", startTimeMs?: number) => ({
  firmId,
  resumeToken,
  startTimeMs,
});
const message = (ms: number): FeedMessage => ({ changes: [], through: new Date(ms) });

describe("watchContactChanges", () => {
  it("a resume token carries the point reached, bound to its firm; it wins over start_time", async () => {
    const feed = fakeFeed([message(1234)], new FeedClosedError());
    const watch = watchContactChanges({ feed, pageTokenKey: key, limits });
    const got: WatchMessage[] = [];
    await expect(async () => {
      for await (const m of watch(raw("acme", "", 5), new AbortController().signal)) got.push(m);
    }).rejects.toBeInstanceOf(FeedClosedError);
    const token = got[0]?.resumeToken as string;
    await expect(async () => {
      for await (const _ of watch(raw("acme", token, 99), new AbortController().signal));
    }).rejects.toBeInstanceOf(FeedClosedError);
    expect(feed.starts).toEqual([new Date(5), new Date(1234)]);
    // Another firm, or an altered token, is a violation naming resumeToken.
    for (const [firm, bad] of [
      ["other", token],
      ["acme", `${token.slice(0, -2)}AA`],
    ] as const) {
      const error = await (async () => {
        try {
          for await (const _ of watch(raw(firm, bad), new AbortController().signal));
        } catch (thrown) {
          return thrown;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).violations.map((v) => v.field)).toEqual(["resumeToken"]);
    }
  });

  it("a slow reader's error carries the token of the last message sent, as ErrorInfo metadata", async () => {
    const feed = fakeFeed([message(10), message(20)], new SlowReaderError(50, ""));
    const watch = watchContactChanges({ feed, pageTokenKey: key, limits });
    const got: string[] = [];
    let thrown: unknown;
    try {
      for await (const m of watch(raw("acme"), new AbortController().signal)) got.push(m.resumeToken);
    } catch (error) {
      thrown = error;
    }
    const { error } = toConnectError(thrown);
    expect(error.code).toBe(Code.ResourceExhausted);
    const [info] = error.findDetails(ErrorInfoSchema);
    expect(info?.reason).toBe("FEED_BACKLOG_EXCEEDED");
    expect(info?.metadata.resumeToken).toBe(got[1]);
  });

  it("streams past the caps are refused before the feed is asked; the feed's errors keep their codes", async () => {
    const feed = fakeFeed([]);
    const watch = watchContactChanges({ feed, pageTokenKey: key, limits });
    const stop = new AbortController();
    const open = ["a", "a", "b"].map((firm) => watch(raw(firm), stop.signal));
    for (const stream of open) void stream.next();
    await new Promise((resolve) => setTimeout(resolve, 10));
    await expect(watch(raw("a"), stop.signal).next()).rejects.toBeInstanceOf(FeedLimitError);
    await expect(watch(raw("c"), stop.signal).next()).rejects.toBeInstanceOf(FeedLimitError);
    stop.abort();
    expect(toConnectError(new FeedLimitError("x")).error.code).toBe(Code.ResourceExhausted);
    expect(toConnectError(new HistoryExpiredError(30)).error.code).toBe(Code.OutOfRange);
    expect(toConnectError(new FeedClosedError()).error.code).toBe(Code.Unavailable);
  });
});

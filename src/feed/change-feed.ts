import { UnavailableError } from "../contacts/errors.js";
import type { Logger } from "../logger.js";
import { FeedClosedError, HistoryExpiredError, SlowReaderError } from "./feed-errors.js";
import { type FeedMessage, feedMessages, wholeTicks } from "./feed-messages.js";
import { type FeedStore, ORIGIN } from "./feed-store.js";

export interface ChangeFeedOptions {
  /** Time between two polls of the watched firms' clocks (FEED_POLL_MS). */
  readonly pollMs: number;
  /** Longest a stream goes without a message: an empty one (a heartbeat) is sent then (FEED_HEARTBEAT_MS). */
  readonly heartbeatMs: number;
  /** Changes one stream may have waiting to be sent; past it the stream ends with SlowReaderError. */
  readonly maxBacklog: number;
  /** Changes read per statement, and (whole transactions allowing) sent per message. */
  readonly readLimit: number;
  /** Changes per message when whole transactions allow. */
  readonly messageChanges: number;
}

export const DEFAULT_FEED_READ = Object.freeze({ readLimit: 5_000, messageChanges: 500 });

/** Where a watch starts. */
export interface WatchStart {
  /** After this point (a resume token's or start_time); undefined: from the firm's clock now. */
  readonly after: Date | undefined;
  /**
   * Starts before this time are refused with HistoryExpiredError when the firm changed since: history older than
   * the retention window may have lost deletions. The origin (a firm never written) is always complete.
   */
  readonly horizon: Date;
  readonly retentionDays: number;
}

/** The feed of one instance: one poller for every watched firm, whatever the number of watchers. */
export interface ChangeFeed {
  /**
   * The firm's changes after the start, in commit order, as messages of whole transactions, then every new one;
   * an empty message whenever heartbeatMs passes without one. Ends when `signal` aborts; throws
   * HistoryExpiredError before anything when the start is too old, SlowReaderError (token empty) when the
   * reader falls behind, FeedClosedError at close.
   */
  watch(firmId: string, start: WatchStart, signal: AbortSignal): AsyncGenerator<FeedMessage>;
  /** A write of the firm committed on this instance: poll now rather than at the next interval. */
  notify(firmId: string): void;
  /** Ends every stream with FeedClosedError and stops polling. */
  close(): Promise<void>;
}

interface Watcher {
  /** Every change up to here is queued or sent. */
  position: Date;
  readonly queue: FeedMessage[];
  queued: number;
  failure: Error | undefined;
  wake: (() => void) | undefined;
}

interface FirmGroup {
  /** The clock value every attached watcher has been sent up to; undefined until the first poll reads it. */
  watermark: Date | undefined;
  readonly ready: Promise<void>;
  markReady: () => void;
  /** Watchers receiving the poller's messages. */
  readonly attached: Set<Watcher>;
  /** Watchers attached or catching up: the group lives while there is one. */
  members: number;
}

/**
 * Starts the feed. Each poll reads the clocks of all watched firms in one statement; for each firm whose clock
 * moved, it reads the new changes once and hands them to every watcher of that firm, so the database work does
 * not grow with the watchers. A new watcher reads its own backlog (from its start up to the firm's watermark) in
 * pages, then joins the firm's group.
 */
export function startChangeFeed(store: FeedStore, options: ChangeFeedOptions, logger: Logger): ChangeFeed {
  const groups = new Map<string, FirmGroup>();
  const closing = new AbortController();
  let pending = false;
  let wakePoller: (() => void) | undefined;
  const wake = () => {
    pending = true;
    wakePoller?.();
  };

  function joinGroup(firmId: string): FirmGroup {
    let group = groups.get(firmId);
    if (!group) {
      let markReady = () => {};
      const ready = new Promise<void>((resolve) => {
        markReady = resolve;
      });
      group = { watermark: undefined, ready, markReady, attached: new Set(), members: 0 };
      groups.set(firmId, group);
      wake();
    }
    group.members++;
    return group;
  }

  function leaveGroup(firmId: string, group: FirmGroup, watcher: Watcher): void {
    group.attached.delete(watcher);
    if (--group.members === 0 && groups.get(firmId) === group) groups.delete(firmId);
  }

  function deliver(watcher: Watcher, messages: readonly FeedMessage[]): void {
    for (const message of messages) {
      watcher.queue.push(message);
      watcher.queued += message.changes.length;
      watcher.position = message.through;
    }
    if (watcher.queued > options.maxBacklog) {
      // Bounded memory even for a reader that stopped: the backlog goes, and the stream ends once it is read.
      watcher.failure = new SlowReaderError(options.maxBacklog, "");
      watcher.queue.length = 0;
      watcher.queued = 0;
    }
    if (messages.length > 0) watcher.wake?.();
  }

  /** Reads (after, upTo] as far as whole ticks allow in one page; a tick larger than a page is read whole. */
  async function readPage(firmId: string, after: Date, upTo: Date) {
    const rows = await store.readChanges(firmId, after, upTo, options.readLimit);
    const kept = wholeTicks(rows, upTo, options.readLimit);
    if (kept) return kept;
    const tick = (rows[0] as (typeof rows)[number]).changeTime;
    const whole = await store.readChanges(firmId, after, tick, Number.MAX_SAFE_INTEGER);
    return { changes: whole, through: tick };
  }

  /** One poll: true when a firm has more to read than one page held. */
  async function poll(): Promise<boolean> {
    const firms = [...groups.keys()];
    if (firms.length === 0) return false;
    const clocks = await store.readClocks(firms);
    let more = false;
    for (const firmId of firms) {
      const group = groups.get(firmId);
      if (!group) continue;
      const clock = clocks.get(firmId) ?? ORIGIN;
      if (group.watermark === undefined) {
        group.watermark = clock;
        group.markReady();
        continue;
      }
      const from = group.watermark;
      if (clock.getTime() <= from.getTime() || group.attached.size === 0) {
        // Nobody attached needs the changes: a watcher catching up reads them itself.
        if (group.attached.size === 0) group.watermark = clock;
        continue;
      }
      const page = await readPage(firmId, from, clock);
      if (groups.get(firmId) !== group) continue;
      const shared = feedMessages(page.changes, from, page.through, options.messageChanges);
      for (const watcher of group.attached) {
        if (watcher.failure) continue;
        const ahead = watcher.position.getTime() > from.getTime();
        deliver(
          watcher,
          ahead ? feedMessages(page.changes, watcher.position, page.through, options.messageChanges) : shared,
        );
      }
      group.watermark = page.through;
      if (page.through.getTime() < clock.getTime()) more = true;
    }
    return more;
  }

  const loop = (async () => {
    while (!closing.signal.aborted) {
      pending = false;
      let more = false;
      try {
        more = await poll();
      } catch (error) {
        logger.warn({ err: { message: (error as Error).message } }, "change feed poll failed; retrying");
      }
      if (more || pending || closing.signal.aborted) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.pollMs);
        wakePoller = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wakePoller = undefined;
    }
  })();

  async function* watch(firmId: string, start: WatchStart, signal: AbortSignal): AsyncGenerator<FeedMessage> {
    const stop = AbortSignal.any([signal, closing.signal]);
    const group = joinGroup(firmId);
    const watcher: Watcher = { position: ORIGIN, queue: [], queued: 0, failure: undefined, wake: undefined };
    const onStop = () => watcher.wake?.();
    stop.addEventListener("abort", onStop);
    try {
      await untilAborted(group.ready, stop);
      if (stop.aborted) return yield* ended(closing.signal);
      const clock = group.watermark as Date;
      const after = start.after ?? clock;
      const tooOld = after.getTime() !== ORIGIN.getTime() && after.getTime() < start.horizon.getTime();
      if (tooOld && clock.getTime() > after.getTime()) throw new HistoryExpiredError(start.retentionDays);
      watcher.position = after;
      // Catch up on our own until the group's watermark is reached, then join it in the same tick.
      for (;;) {
        const target = group.watermark as Date;
        if (watcher.position.getTime() >= target.getTime()) {
          group.attached.add(watcher);
          break;
        }
        const page = await readPage(firmId, watcher.position, target).catch((error: unknown) => {
          // The stream ends resumable: nothing after the last message was sent.
          throw new UnavailableError("the database is unavailable; resume with the last resume_token", {
            cause: error,
          });
        });
        if (stop.aborted) return yield* ended(closing.signal);
        for (const message of feedMessages(
          page.changes,
          watcher.position,
          page.through,
          options.messageChanges,
        )) {
          watcher.position = message.through;
          yield message;
          if (stop.aborted) return yield* ended(closing.signal);
        }
      }
      let lastSent = Date.now();
      for (;;) {
        if (stop.aborted) return yield* ended(closing.signal);
        if (watcher.failure) throw watcher.failure;
        const message = watcher.queue.shift();
        if (message) {
          watcher.queued -= message.changes.length;
          lastSent = Date.now();
          yield message;
          continue;
        }
        const wait = lastSent + options.heartbeatMs - Date.now();
        if (wait <= 0) {
          lastSent = Date.now();
          yield { changes: [], through: watcher.position };
          continue;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          watcher.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        watcher.wake = undefined;
      }
    } finally {
      stop.removeEventListener("abort", onStop);
      leaveGroup(firmId, group, watcher);
    }
  }

  return {
    watch,
    notify(firmId) {
      if (groups.has(firmId)) wake();
    },
    async close() {
      closing.abort();
      wakePoller?.();
      await loop;
    },
  };
}

/** Ends a stream: quietly when its caller stopped it, with FeedClosedError when the feed closed. */
// biome-ignore lint/correctness/useYield: a generator that only returns or throws
async function* ended(closed: AbortSignal): AsyncGenerator<FeedMessage> {
  if (closed.aborted) throw new FeedClosedError();
}

/** Waits for `promise`, or until the signal aborts. */
function untilAborted(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    signal.addEventListener("abort", () => resolve(), { once: true });
    promise.then(resolve);
  });
}

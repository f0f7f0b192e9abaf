import { createHmac } from "node:crypto";
import type { FieldViolation } from "../contacts/contact.js";
import { ValidationError } from "../contacts/errors.js";
import type { RecordedChange } from "../contacts/history-entry.js";
import { readPageToken, type TokenScope, writePageToken } from "../contacts/page-token.js";
import { stringProblem } from "../contacts/validate-upsert.js";
import type { ChangeFeed } from "./change-feed.js";
import { FeedLimitError, SlowReaderError } from "./feed-errors.js";

/** WatchContactChanges' request as it arrives. */
export interface RawWatchRequest {
  readonly firmId: string;
  /** start_time in milliseconds since the epoch (a finer fraction is dropped: change times are whole ms). */
  readonly startTimeMs: number | undefined;
  readonly resumeToken: string;
}

/** One message of the stream: whole transactions' changes and the token to resume after it. */
export interface WatchMessage {
  readonly changes: readonly RecordedChange[];
  readonly resumeToken: string;
}

export interface WatchLimits {
  /** Streams this instance holds open at once (FEED_MAX_STREAMS). */
  readonly maxStreams: number;
  /** Streams of one firm on this instance (FEED_MAX_FIRM_STREAMS). */
  readonly maxStreamsPerFirm: number;
  /** Days of history kept (TOMBSTONE_RETENTION_DAYS): older start points are OUT_OF_RANGE. */
  readonly retentionDays: number;
}

const DAY_MS = 86_400_000;
/**
 * Start points within this margin of the retention window are refused too: the purge removes what passes the
 * window while a stream reads its backlog.
 */
const HORIZON_MARGIN_MS = 3_600_000;

/**
 * The WatchContactChanges use case: checks the request, counts the stream against the caps, and streams the
 * feed's messages, each with a resume token: base64url of the point reached, signed (HMAC, as page tokens) with
 * a key derived for the feed and bound to the firm, so a token of another firm, of ListContacts or altered
 * names resumeToken. The token takes precedence over start_time.
 */
export function watchContactChanges(deps: {
  readonly feed: ChangeFeed;
  readonly pageTokenKey: Buffer;
  readonly limits: WatchLimits;
}) {
  const key = createHmac("sha256", deps.pageTokenKey).update("WatchContactChanges").digest();
  const perFirm = new Map<string, number>();
  let open = 0;
  const { limits } = deps;

  return async function* watch(raw: RawWatchRequest, signal: AbortSignal): AsyncGenerator<WatchMessage> {
    const { firmId, after } = validateWatch(raw, key);
    if (open >= limits.maxStreams)
      throw new FeedLimitError(
        `this server already has ${limits.maxStreams} watch streams open (FEED_MAX_STREAMS)`,
      );
    if ((perFirm.get(firmId) ?? 0) >= limits.maxStreamsPerFirm) {
      throw new FeedLimitError(
        `this firm already has ${limits.maxStreamsPerFirm} watch streams open on this server (FEED_MAX_FIRM_STREAMS)`,
      );
    }
    open++;
    perFirm.set(firmId, (perFirm.get(firmId) ?? 0) + 1);
    let lastToken = raw.resumeToken;
    try {
      const start = {
        after,
        horizon: new Date(Date.now() - limits.retentionDays * DAY_MS + HORIZON_MARGIN_MS),
        retentionDays: limits.retentionDays,
      };
      for await (const message of deps.feed.watch(firmId, start, signal)) {
        lastToken = writePageToken(key, scopeOf(firmId), { time: message.through, id: "w" });
        yield { changes: message.changes, resumeToken: lastToken };
      }
    } catch (error) {
      if (error instanceof SlowReaderError) throw new SlowReaderError(error.limit, lastToken);
      throw error;
    } finally {
      open--;
      const left = (perFirm.get(firmId) ?? 1) - 1;
      if (left === 0) perFirm.delete(firmId);
      else perFirm.set(firmId, left);
    }
  };
}

/** Checks the firm and the start point: the resume token's when one is sent, else start_time, else none (now). */
export function validateWatch(
  raw: RawWatchRequest,
  key: Buffer,
): { firmId: string; after: Date | undefined } {
  const violations: FieldViolation[] = [];
  const firmId = raw.firmId.trim();
  const firmProblem = stringProblem("firmId", firmId);
  if (firmProblem) violations.push({ field: "firmId", description: firmProblem });
  let after: Date | undefined;
  if (raw.resumeToken !== "" && violations.length === 0) {
    const cursor = readPageToken(key, scopeOf(firmId), raw.resumeToken);
    if (cursor === undefined) {
      violations.push({
        field: "resumeToken",
        description: "is not a token this service issued for this firm's watch",
      });
    } else after = cursor.time;
  } else if (raw.startTimeMs !== undefined) {
    if (!Number.isFinite(raw.startTimeMs) || raw.startTimeMs < 0)
      violations.push({ field: "startTime", description: "must not be before 1970" });
    else after = new Date(Math.floor(raw.startTimeMs));
  }
  if (violations.length > 0) throw new ValidationError(violations);
  return { firmId, after };
}

// ListContacts' scope parameters, fixed: the feed is told apart by its key.
const scopeOf = (firmId: string): TokenScope => ({ firmId, updatedAfterMs: null, showDeleted: false });

/** The start point is older than the history the server keeps: changes after it may be gone. List again. */
export class HistoryExpiredError extends Error {
  constructor(retentionDays: number) {
    super(
      `the start point is older than the ${retentionDays} days of history the server keeps (TOMBSTONE_RETENTION_DAYS): deletions after it may be gone; list the contacts again (ListContacts) and watch from the largest update_time`,
    );
    this.name = "HistoryExpiredError";
  }
}

/** The server or the firm already has as many watch streams as it allows; nothing was opened. */
export class FeedLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FeedLimitError";
  }
}

/**
 * The watcher read slower than changes arrived and its backlog passed the limit: the stream ends; resuming with
 * `resumeToken` (the last message it received, repeated here) loses nothing.
 */
export class SlowReaderError extends Error {
  constructor(
    readonly limit: number,
    readonly resumeToken: string,
  ) {
    super(
      `the stream fell more than ${limit} changes behind (FEED_MAX_BACKLOG): resume with the last resume_token received`,
    );
    this.name = "SlowReaderError";
  }
}

/** The server is shutting down (or the connection going away): resume with the last resume_token elsewhere. */
export class FeedClosedError extends Error {
  constructor() {
    super(
      "the server is shutting down or the connection is going away: resume with the last resume_token received",
    );
    this.name = "FeedClosedError";
  }
}

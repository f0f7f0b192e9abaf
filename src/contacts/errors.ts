import type { FieldViolation } from "./contact.js";

/** The request is malformed; nothing was written. */
export class ValidationError extends Error {
  constructor(readonly violations: readonly FieldViolation[]) {
    super(violations.map((v) => `${v.field}: ${v.description}`).join("; "));
    this.name = "ValidationError";
  }
}

/** Why a write conflicts with another contact of the firm, as the ErrorInfo reason names it. */
export type ConflictReason = "EMAIL_TAKEN" | "TRACKING_ID_TAKEN";

/** The write would break a uniqueness rule of the firm's contact book; nothing was written. */
export class ConflictError extends Error {
  constructor(
    message: string,
    readonly reason: ConflictReason,
    /** The request field (JSON name) whose value is taken. */
    readonly field: string,
    /** The contact that holds the value; only one that exists after the call. */
    readonly conflictingContactId: string | undefined,
    /**
     * In a batch that wrote nothing (all_or_none with a failure, or validate_only), the index of the item whose
     * contact would have held the value: that contact was never stored, so it has no id to name.
     */
    readonly conflictingItemIndex?: number,
  ) {
    super(message);
    this.name = "ConflictError";
  }
}

/** The firm has no live contact with the requested id; nothing was written. */
export class NotFoundError extends Error {
  constructor(message = "the firm has no contact with this id") {
    super(message);
    this.name = "NotFoundError";
  }
}

/** The write would exceed a per-contact limit; nothing was written. */
export class LimitExceededError extends Error {
  constructor(
    message: string,
    /** The request field (JSON name) whose ids would exceed the limit. */
    readonly field: string,
  ) {
    super(message);
    this.name = "LimitExceededError";
  }
}

/** Concurrent writes kept colliding after every retry; nothing was written and the call may be retried. */
export class ContentionError extends Error {
  constructor(
    readonly attempts: number,
    options?: ErrorOptions,
  ) {
    super(`the write collided with concurrent writes ${attempts} times; retry the call`, options);
    this.name = "ContentionError";
  }
}

/** The database could not be reached or answered; the call may be retried. */
export class UnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UnavailableError";
  }
}

/** An item of an all_or_none batch that was not written because another item of the batch failed. */
export class BatchAbortedError extends Error {
  constructor() {
    super("not written: another item of this all_or_none batch failed");
    this.name = "BatchAbortedError";
  }
}

/** Too many calls wait for the database: this one was shed before it touched anything, and may be retried. */
export class OverloadedError extends UnavailableError {
  constructor(message: string) {
    super(message);
    this.name = "OverloadedError";
  }
}

/** A call that waited DB_QUEUE_TIMEOUT_MS for a database connection in vain; nothing was read or written. */
export const waitedTooLong = (timeoutMs: number): OverloadedError =>
  new OverloadedError(
    `no database connection was free within ${timeoutMs} ms (DB_QUEUE_TIMEOUT_MS): the service is overloaded; retry the call with backoff`,
  );

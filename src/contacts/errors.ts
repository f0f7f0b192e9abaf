import type { FieldViolation } from "./contact.js";

/** The request is malformed; nothing was written. */
export class ValidationError extends Error {
  constructor(readonly violations: readonly FieldViolation[]) {
    super(violations.map((v) => `${v.field}: ${v.description}`).join("; "));
    this.name = "ValidationError";
  }
}

/** The write would break a uniqueness rule of the firm's contact book; nothing was written. */
export class ConflictError extends Error {
  constructor(
    message: string,
    readonly field: string,
    readonly conflictingContactId: string | undefined,
  ) {
    super(message);
    this.name = "ConflictError";
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

/** Too many calls wait for the database: this one was shed before it touched anything, and may be retried. */
export class OverloadedError extends UnavailableError {
  constructor(message: string) {
    super(message);
    this.name = "OverloadedError";
  }
}

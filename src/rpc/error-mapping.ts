import { create } from "@bufbuild/protobuf";
import { AnySchema, anyPack, durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  PreconditionFailureSchema,
  RetryInfoSchema,
} from "../../gen-deps/google/rpc/error_details_pb.js";
import { type Status, StatusSchema } from "../../gen-deps/google/rpc/status_pb.js";
import {
  BatchAbortedError,
  ConflictError,
  ContentionError,
  LimitExceededError,
  NotFoundError,
  OverloadedError,
  UnavailableError,
  ValidationError,
} from "../contacts/errors.js";
import {
  FeedClosedError,
  FeedLimitError,
  HistoryExpiredError,
  SlowReaderError,
} from "../feed/feed-errors.js";
import type { Logger } from "../logger.js";
import { FirmBusyError } from "./firm-limit.js";

type ErrorClass = abstract new (...args: never[]) => Error;

/** The one table from domain errors to status codes, with the details each error carries. */
const ERROR_TABLE: ReadonlyArray<readonly [ErrorClass, (error: never) => ConnectError]> = [
  [
    ValidationError,
    (error: ValidationError) =>
      new ConnectError(error.message, Code.InvalidArgument, undefined, [
        {
          desc: BadRequestSchema,
          value: create(BadRequestSchema, { fieldViolations: [...error.violations] }),
        },
      ]),
  ],
  [
    ConflictError,
    (error: ConflictError) =>
      new ConnectError(error.message, Code.AlreadyExists, undefined, [
        {
          desc: ErrorInfoSchema,
          value: create(ErrorInfoSchema, {
            reason: error.reason,
            domain: "contacts.v1",
            metadata: {
              field: error.field,
              ...(error.conflictingContactId && { contactId: error.conflictingContactId }),
              ...(error.conflictingItemIndex !== undefined && {
                itemIndex: String(error.conflictingItemIndex),
              }),
            },
          }),
        },
      ]),
  ],
  [NotFoundError, (error: NotFoundError) => new ConnectError(error.message, Code.NotFound)],
  [
    LimitExceededError,
    (error: LimitExceededError) =>
      new ConnectError(error.message, Code.FailedPrecondition, undefined, [
        {
          desc: PreconditionFailureSchema,
          value: create(PreconditionFailureSchema, {
            violations: [{ type: "ASSIGNMENT_LIMIT", subject: error.field, description: error.message }],
          }),
        },
      ]),
  ],
  [
    ContentionError,
    (error: ContentionError) => retryable(error.message, Code.Aborted, RETRY_DELAY_MS.contention),
  ],
  // Before UnavailableError, which it extends: shed load suggests a shorter wait than a database outage.
  [
    OverloadedError,
    (error: OverloadedError) => retryable(error.message, Code.Unavailable, RETRY_DELAY_MS.overload),
  ],
  [
    UnavailableError,
    (error: UnavailableError) => retryable(error.message, Code.Unavailable, RETRY_DELAY_MS.unavailable),
  ],
  [
    FirmBusyError,
    (error: FirmBusyError) => retryable(error.message, Code.ResourceExhausted, RETRY_DELAY_MS.overload),
  ],
  // Not retryable as it is: the batch's failing items must be fixed first.
  [BatchAbortedError, (error: BatchAbortedError) => new ConnectError(error.message, Code.Aborted)],
  // WatchContactChanges: list again, then watch from the list.
  [HistoryExpiredError, (error: HistoryExpiredError) => new ConnectError(error.message, Code.OutOfRange)],
  [
    FeedLimitError,
    (error: FeedLimitError) => retryable(error.message, Code.ResourceExhausted, RETRY_DELAY_MS.overload),
  ],
  // Resumable at once with the token, which the ErrorInfo repeats.
  [
    SlowReaderError,
    (error: SlowReaderError) =>
      new ConnectError(error.message, Code.ResourceExhausted, undefined, [
        {
          desc: ErrorInfoSchema,
          value: create(ErrorInfoSchema, {
            reason: "FEED_BACKLOG_EXCEEDED",
            domain: "contacts.v1",
            metadata: { resumeToken: error.resumeToken, limit: String(error.limit) },
          }),
        },
      ]),
  ],
  [FeedClosedError, (error: FeedClosedError) => retryable(error.message, Code.Unavailable, 0)],
];

/**
 * The delay a retryable failure suggests (google.rpc.RetryInfo): a lost race clears as soon as the other writer
 * commits; a database that cannot be reached needs longer, and every client hammering it would not help.
 */
export const RETRY_DELAY_MS = Object.freeze({ contention: 50, unavailable: 1_000, overload: 250 });

/** A failure the caller may retry as it is, with a google.rpc.RetryInfo detail suggesting when. */
export function retryable(message: string, code: Code, delayMs: number): ConnectError {
  return new ConnectError(message, code, undefined, [
    { desc: RetryInfoSchema, value: create(RetryInfoSchema, { retryDelay: durationFromMs(delayMs) }) },
  ]);
}

/** Maps any error a handler throws to the ConnectError the client sees. Unknown errors never leak their text. */
export function toConnectError(
  error: unknown,
  signal?: AbortSignal,
): { error: ConnectError; unexpected: boolean } {
  if (error instanceof ConnectError) return { error, unexpected: false };
  for (const [type, map] of ERROR_TABLE) {
    if (error instanceof type) return { error: map(error as never), unexpected: false };
  }
  // A deadline or cancellation that surfaced as some other error (for example from a driver) is still that.
  if (signal?.aborted) return { error: ConnectError.from(signal.reason), unexpected: false };
  return { error: new ConnectError("internal error", Code.Internal), unexpected: true };
}

/**
 * The google.rpc.Status a call failing with `error` would carry (code, message, details packed as Any), built
 * from the same table: a batch item's error is exactly the one a single call would have returned.
 */
export function toStatus(error: unknown): Status {
  const { error: mapped } = toConnectError(error);
  return create(StatusSchema, {
    code: mapped.code,
    message: mapped.rawMessage,
    details: mapped.details.map((detail) =>
      "desc" in detail
        ? anyPack(detail.desc, create(detail.desc, detail.value))
        : create(AnySchema, { typeUrl: `type.googleapis.com/${detail.type}`, value: detail.value }),
    ),
  });
}

/** The interceptor that applies the error table, logging the cause of anything unexpected. */
export function errorMappingInterceptor(logger: Logger): Interceptor {
  return (next) => async (request) => {
    const map = (thrown: unknown): ConnectError => {
      const { error, unexpected } = toConnectError(thrown, request.signal);
      if (unexpected) logger.error({ err: withoutData(thrown), procedure: request.url }, "unexpected error");
      return error;
    };
    try {
      const response = await next(request);
      // A streaming response fails while it is read, after this interceptor has returned it.
      if (!response.stream) return response;
      return { ...response, message: mapErrors(response.message, map) };
    } catch (thrown) {
      throw map(thrown);
    }
  };
}

async function* mapErrors<T>(messages: AsyncIterable<T>, map: (thrown: unknown) => ConnectError) {
  try {
    yield* messages;
  } catch (thrown) {
    throw map(thrown);
  }
}

/**
 * What of an unexpected error may be logged. Database errors carry the statement's values (`parameters`, `sql`,
 * and messages like "Duplicate entry 'ann@example.com-acme'"), which are personal data: for them only the
 * codes and the stack's frames are kept.
 */
function withoutData(error: unknown): unknown {
  if (!(error instanceof Error)) return { type: typeof error };
  const source = (error as { driverError?: unknown }).driverError ?? error;
  const { code, errno, sqlState } = source as { code?: unknown; errno?: unknown; sqlState?: unknown };
  const fromDatabase = source !== error || errno !== undefined || "sql" in error;
  return {
    type: error.name,
    message: fromDatabase ? "(database error; message withheld)" : error.message,
    code,
    errno,
    sqlState,
    stack: error.stack?.split("\n").slice(1).join("\n"),
  };
}

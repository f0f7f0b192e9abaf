import { setTimeout as sleep } from "node:timers/promises";
import type { DataSource } from "typeorm";
import type { Committed, ContactStore, Transact, TransactMode } from "../contacts/contact-store.js";
import { ContentionError, OverloadedError, UnavailableError } from "../contacts/errors.js";
import { inAttemptSpan, tracedDataSource } from "../tracing/db-spans.js";
import type { Tracing } from "../tracing/tracing.js";
import { contactRepository } from "./contact-repository.js";
import { classifyDbError, type DbFailure } from "./db-errors.js";
import { runPipelined } from "./pipelined-transaction.js";

export interface RetryPolicy {
  /** Attempts in all, the first included, when writes collide (duplicate key, deadlock, lock timeout). */
  readonly maxAttempts: number;
  /**
   * Attempts in all when the database cannot be reached: enough to replace a pooled connection the server
   * closed, few enough that a database silently dropping packets fails the call fast instead of at its deadline.
   */
  readonly maxUnavailableAttempts: number;
  /** Backoff before retry n is a random time in [0, min(maxDelayMs, baseDelayMs * 2^n)] ("full jitter"). */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 10,
  maxUnavailableAttempts: 2,
  baseDelayMs: 2,
  maxDelayMs: 100,
});

/** Called before each retry, for metrics and tests. */
export type RetryListener = (failure: DbFailure, attempt: number) => void;

/** How transactions are retried and how long each waits for a pooled connection. */
export interface TransactOptions {
  readonly policy?: RetryPolicy;
  readonly onRetry?: RetryListener;
  /** Longest wait for a pooled connection (DB_QUEUE_TIMEOUT_MS); past it the call fails OverloadedError. */
  readonly queueTimeoutMs?: number;
  /** When set, each attempt is a span, with its connection wait and round trips as children. */
  readonly tracing?: Tracing | undefined;
  /** false sends each statement alone (a Galera cluster: see runPipelined); default true, one packet a trip. */
  readonly onePacket?: boolean;
}

/**
 * A Transact over a TypeORM data source (whose connections are READ COMMITTED, see database.ts), with the whole
 * transaction retried on duplicate keys, deadlocks, lock timeouts and lost connections. Never a statement
 * inside it: after such an error the transaction's reads are stale. Exhausted retries become ContentionError or
 * UnavailableError. The caller's deadline applies to the database work: no statement is sent after it. A call
 * that found no free connection within the queue timeout is not retried: the pool is saturated, and waiting
 * again would only lengthen the queue.
 */
export function createTransact(dataSource: DataSource, options: TransactOptions = {}): Transact {
  const { policy = DEFAULT_RETRY_POLICY, onRetry, queueTimeoutMs, tracing, onePacket = true } = options;
  const source = tracing ? tracedDataSource(dataSource, tracing) : dataSource;
  return async <T>(
    work: (store: ContactStore) => Promise<T>,
    signal?: AbortSignal,
    mode: TransactMode = {},
  ): Promise<Committed<T>> => {
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      const run = () =>
        runPipelined(
          source,
          (tx) => work(contactRepository(tx)),
          signal,
          queueTimeoutMs,
          mode.dryRun,
          onePacket,
        );
      try {
        return await untilAborted(tracing ? inAttemptSpan(tracing, attempt, run) : run(), signal);
      } catch (error) {
        if (signal?.aborted) throw signal.reason; // the caller's deadline or cancellation, whatever it interrupted
        const failure = classifyDbError(error);
        if (failure === "other") throw error;
        if (failure === "overloaded") throw overloaded(error);
        const limit = failure === "unavailable" ? policy.maxUnavailableAttempts : policy.maxAttempts;
        if (attempt >= limit) throw exhausted(failure, attempt, error);
        onRetry?.(failure, attempt);
        const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
        await sleep(Math.random() * ceiling, undefined, { signal }).catch((sleepError: unknown) => {
          signal?.throwIfAborted(); // the caller's deadline or cancellation, not Node's AbortError
          throw sleepError;
        });
      }
    }
  };
}

function overloaded(cause: unknown): Error {
  const error = new OverloadedError(
    "too many calls are waiting for the database (DB_QUEUE_LIMIT): the service is overloaded; retry the call with backoff",
  );
  error.cause = cause;
  return error;
}

function exhausted(failure: DbFailure, attempts: number, cause: unknown): Error {
  return failure === "unavailable"
    ? new UnavailableError("the database is unavailable; retry the call", { cause })
    : new ContentionError(attempts, { cause });
}

/**
 * Settles with `work`, or rejects with the signal's reason as soon as it aborts: the caller gets its answer at its
 * deadline even while a statement still waits on a lock. The abandoned attempt sends nothing more (every round
 * trip checks the signal) and rolls back when its statement returns.
 */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

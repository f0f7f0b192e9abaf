import { createHash } from "node:crypto";
import type { RawBatchUpsertRequest } from "./batch-types.js";
import type { Committed, ContactStore, Transact } from "./contact-store.js";
import { BatchAbortedError, ConflictError, ValidationError } from "./errors.js";
import { DATA_FIELDS } from "./fields.js";
import type { RequestKey, StoredOutcome } from "./request-key.js";
import { CONTROL, codePoints, type RawUpsertRequest } from "./validate-upsert.js";

/**
 * Request ids (UpsertContact and BatchUpsertContacts' `request_id`): the first outcome of an id within a firm
 * is stored in the transaction that produced it, and a retry with the same id and the same request gets it
 * again without running. How a duplicate never writes twice: the id's row is the first lock its transaction
 * takes (inserted before any read, see ContactStore.claimRequestId), so a duplicate arriving while the first
 * runs waits on that row's unique key until the first commits (then it reads the stored outcome) or rolls back
 * (then it goes on as the first); a wait longer than the lock timeout is retried, then ABORTED. The lock order
 * of every transaction stays request id row, contact rows, firm clock.
 */

export const REQUEST_ID_MAX_LENGTH = 64;
export const DEFAULT_REQUEST_ID_TTL_HOURS = 24;
/**
 * The largest outcome a request id keeps, in UTF-8 bytes of its JSON: stored in one statement and read back in one
 * row, it must fit the database's packet (16 MiB by default on MariaDB) with room for escaping. A batch of 1000
 * ordinary contacts answers about 1 MB; one whose answer is larger fails with INVALID_ARGUMENT naming requestId.
 */
export const REQUEST_OUTCOME_MAX_BYTES = 6 * 1024 * 1024;

/** The problem with a call's request id, or undefined; ids are opaque and compared exactly (never trimmed). */
export function requestIdProblem(requestId: string): string | undefined {
  if (requestId === "") return "must not be empty when present";
  if (!requestId.isWellFormed()) return "is not valid Unicode text";
  if (CONTROL.test(requestId)) return "must not contain control characters or line breaks";
  if (codePoints(requestId) > REQUEST_ID_MAX_LENGTH)
    return `must be at most ${REQUEST_ID_MAX_LENGTH} characters`;
  return undefined;
}

/** The call's request id, checked (ValidationError naming `requestId`); null when it sent none. */
export function checkedRequestId(requestId: string | null | undefined): string | null {
  if (requestId === null || requestId === undefined) return null;
  const problem = requestIdProblem(requestId);
  if (problem) throw new ValidationError([{ field: "requestId", description: problem }]);
  return requestId;
}

/** SHA-256 of a request's canonical form (a JSON array of its fields in a fixed order, absent as null). */
export function fingerprintOf(canonical: readonly unknown[]): string {
  return createHash("sha256").update(JSON.stringify(canonical)).digest("hex");
}

/**
 * An upsert's canonical form: every field trimmed as validation trims it, absent as null, in contract order, so
 * the same request sent as protobuf or JSON (or with other whitespace around its values) has one fingerprint.
 */
function canonicalUpsert(raw: RawUpsertRequest): unknown[] {
  const text = (value: string | undefined) => value?.trim() ?? null;
  return [
    raw.firmId.trim(),
    text(raw.trackingId),
    text(raw.email),
    ...DATA_FIELDS.map((field) => text(raw[field])),
    raw.validateOnly === true,
    raw.requestId ?? null,
  ];
}

/** The fingerprint of an UpsertContact request (tagged: the same id on a batch is another request). */
export const upsertFingerprint = (raw: RawUpsertRequest) =>
  fingerprintOf(["UpsertContact", ...canonicalUpsert(raw)]);

/**
 * The fingerprint of a BatchUpsertContacts request. An item's firmId equal to the batch's means what an empty one
 * does (the contract: empty is the batch's), so both are fingerprinted as empty.
 */
export const batchFingerprint = (request: RawBatchUpsertRequest) => {
  const firmId = request.firmId.trim();
  return fingerprintOf([
    "BatchUpsertContacts",
    firmId,
    request.allOrNone,
    request.items.map((item) =>
      canonicalUpsert(item.firmId.trim() === firmId ? { ...item, firmId: "" } : item),
    ),
  ]);
};

/**
 * The fingerprint the batch had before items' firmIds were read by meaning (each as spelled). Outcomes stored then
 * carry it, so a retry spelled as the first call still matches it. Stored outcomes live REQUEST_ID_TTL_HOURS
 * (at most 8760): once every instance has run this code that long, this can go.
 */
export const spelledBatchFingerprint = (request: RawBatchUpsertRequest) =>
  fingerprintOf([
    "BatchUpsertContacts",
    request.firmId.trim(),
    request.allOrNone,
    request.items.map(canonicalUpsert),
  ]);

export interface Once {
  readonly transact: Transact;
  readonly ttlHours: number;
  readonly firmId: string;
  /** The checked request id; null runs the work as a plain transaction. */
  readonly requestId: string | null;
  readonly fingerprint: () => string;
  /** Another fingerprint a stored outcome of the same request may carry (an older form of it). */
  readonly formerFingerprint?: () => string;
  /** A dry run neither consults nor consumes the request id. */
  readonly dryRun: boolean;
  /** REQUEST_OUTCOME_MAX_BYTES unless a test lowers it. */
  readonly maxOutcomeBytes?: number;
}

/**
 * Runs `work` in one transaction at most once per request id: the first call runs it and stores its outcome (its
 * value, or a definitive error: ValidationError or ConflictError thrown by the work, before it queued any write)
 * with the commit; a retry gets the stored value with the tick its writes carried, or the stored error thrown
 * again. Transient failures (contention, unavailability, the caller's deadline) roll back and store nothing.
 * The same id with another request is a ValidationError naming `requestId`.
 */
export async function transactOnce<T>(
  once: Once,
  work: (store: ContactStore) => Promise<T>,
  signal?: AbortSignal,
): Promise<Committed<T>> {
  const { requestId } = once;
  if (requestId === null || once.dryRun) return once.transact(work, signal, { dryRun: once.dryRun });
  const key: RequestKey = {
    firmId: once.firmId,
    requestId,
    fingerprint: once.fingerprint(),
    ttlHours: once.ttlHours,
  };
  const { value, tick } = await once.transact(async (store): Promise<Ran<T>> => {
    const stored = await store.claimRequestId(key);
    if (stored !== null) {
      const same =
        stored.fingerprint === key.fingerprint || stored.fingerprint === once.formerFingerprint?.();
      if (!same) throw reusedId();
      return { replayed: stored };
    }
    let result: Result<T>;
    try {
      result = { ok: await work(store) };
    } catch (error) {
      if (!(error instanceof ValidationError || error instanceof ConflictError)) throw error;
      result = { error };
    }
    const outcome = JSON.stringify(encode(result));
    const max = once.maxOutcomeBytes ?? REQUEST_OUTCOME_MAX_BYTES;
    const bytes = Buffer.byteLength(outcome);
    // Thrown inside the transaction: it rolls back, so nothing of the call is written.
    if (bytes > max) throw outcomeTooLarge(bytes, max);
    await store.saveRequestOutcome(key, outcome);
    return { result };
  }, signal);
  if ("replayed" in value) {
    const result = decode(JSON.parse(value.replayed.outcome)) as Result<T>;
    if ("error" in result) throw result.error;
    return { value: result.ok, tick: value.replayed.tick };
  }
  if ("error" in value.result) throw value.result.error;
  return { value: value.result.ok, tick };
}

type Result<T> = { readonly ok: T } | { readonly error: Error };
type Ran<T> = { readonly result: Result<T> } | { readonly replayed: StoredOutcome };

function outcomeTooLarge(bytes: number, max: number): ValidationError {
  return new ValidationError([
    {
      field: "requestId",
      description: `cannot be kept for this call: its answer would take ${bytes} bytes, more than the ${max} a request id keeps; send smaller batches with a request id, or this one without (nothing was written)`,
    },
  ]);
}

function reusedId(): ValidationError {
  return new ValidationError([
    {
      field: "requestId",
      description:
        "was already used in this firm for a different request; a retry must resend the same request, and a new request needs a new id",
    },
  ]);
}

/** Outcomes as JSON: dates and the domain errors an outcome may hold are tagged, everything else is plain. */
function encode(value: unknown): unknown {
  if (value instanceof Date) return { $date: value.toISOString() };
  if (value instanceof ValidationError) return { $error: "validation", violations: value.violations };
  if (value instanceof ConflictError) {
    const { message, reason, field, conflictingContactId, conflictingItemIndex } = value;
    return { $error: "conflict", message, reason, field, conflictingContactId, conflictingItemIndex };
  }
  if (value instanceof BatchAbortedError) return { $error: "batch_aborted" };
  if (value instanceof Error) throw new Error(`an outcome cannot hold a ${value.name}`);
  if (Array.isArray(value)) return value.map(encode);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v)]));
  }
  return value;
}

function decode(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decode);
  if (value === null || typeof value !== "object") return value;
  const tagged = value as Record<string, unknown>;
  if (typeof tagged.$date === "string") return new Date(tagged.$date);
  switch (tagged.$error) {
    case "validation":
      return new ValidationError(tagged.violations as ValidationError["violations"]);
    case "conflict":
      return new ConflictError(
        tagged.message as string,
        tagged.reason as ConflictError["reason"],
        tagged.field as string,
        tagged.conflictingContactId as string | undefined,
        tagged.conflictingItemIndex as number | undefined,
      );
    case "batch_aborted":
      return new BatchAbortedError();
  }
  return Object.fromEntries(Object.entries(tagged).map(([k, v]) => [k, decode(v)]));
}

import { applyUpsert, newContact } from "./apply-upsert.js";
import {
  type BatchItemResult,
  type BatchKeys,
  type BatchWrites,
  MAX_BATCH_ITEMS,
  type RawBatchUpsertRequest,
} from "./batch-types.js";
import { type Contact, UNSTAMPED } from "./contact.js";
import { decideUpsert } from "./decide-upsert.js";
import { emailKey } from "./email-key.js";
import { BatchAbortedError, ConflictError, ValidationError } from "./errors.js";
import { DATA_FIELDS, type DataField } from "./fields.js";
import { fieldsWithValue, rejectionError } from "./upsert-outcome.js";
import {
  type RawUpsertRequest,
  stringProblem,
  type UpsertValidation,
  validateUpsert,
} from "./validate-upsert.js";

export interface BatchPlan {
  readonly results: readonly BatchItemResult[];
  readonly writes: BatchWrites;
}

/**
 * Checks the batch itself (firm id, 1 to MAX_BATCH_ITEMS items) and returns its trimmed firm id; throws
 * ValidationError naming `firmId` or `requests`, as the whole call then fails.
 */
export function validateBatch(request: RawBatchUpsertRequest): string {
  const firmId = request.firmId.trim();
  const violations = [];
  const firmProblem = stringProblem("firmId", firmId);
  if (firmProblem) violations.push({ field: "firmId", description: firmProblem });
  const n = request.items.length;
  if (n === 0 || n > MAX_BATCH_ITEMS) {
    violations.push({ field: "requests", description: `must hold 1 to ${MAX_BATCH_ITEMS} items, not ${n}` });
  }
  if (violations.length > 0) throw new ValidationError(violations);
  return firmId;
}

/**
 * Validates each item as a single upsert of the batch's firm: an item's own firmId must be empty or the batch's
 * (after trimming), and its own validateOnly and requestId unset (the batch's own apply to every item);
 * otherwise it fails naming those fields, with its other violations.
 */
export function validateBatchItems(firmId: string, items: readonly RawUpsertRequest[]): UpsertValidation[] {
  return items.map((item) => {
    const own = item.firmId.trim();
    const validation = validateUpsert({ ...item, firmId });
    const violations = [];
    if (own !== "" && own !== firmId) {
      violations.push({ field: "firmId", description: "must be empty or equal to the batch's firmId" });
    }
    if (item.validateOnly === true) {
      violations.push({
        field: "validateOnly",
        description: "must be unset in a batch item: set the batch's",
      });
    }
    if (item.requestId !== undefined) {
      violations.push({ field: "requestId", description: "must be unset in a batch item: set the batch's" });
    }
    if (violations.length === 0) return validation;
    return {
      kind: "invalid",
      violations: [...violations, ...(validation.kind === "invalid" ? validation.violations : [])],
    };
  });
}

/** The distinct keys of the valid items, for the set read. */
export function batchKeys(validations: readonly UpsertValidation[]): BatchKeys {
  const trackingIds = new Set<string>();
  const emails = new Map<string, string>();
  for (const validation of validations) {
    if (validation.kind !== "valid") continue;
    const { trackingId, email } = validation.input;
    if (trackingId !== undefined) trackingIds.add(trackingId);
    if (email === undefined) continue;
    const key = emailKey(email);
    if (!emails.has(key)) emails.set(key, email);
  }
  return { trackingIds: [...trackingIds], emails: [...emails.values()] };
}

export interface PlanOptions {
  readonly allOrNone: boolean;
  readonly newId: () => string;
  /** validate_only: the plan is previewed, never written. */
  readonly dryRun?: boolean;
}

/**
 * Decides a whole batch in memory, item by item in request order, with the single upsert's own functions
 * (decideUpsert, applyUpsert, newContact): each item sees the stored contacts as the earlier items left them,
 * so the answers equal those of the same requests sent one by one. Times are left to the commit's tick (see
 * BatchItemResult's `stamp`). `stored` are the firm's contacts holding any of the batch's keys. With
 * `allOrNone`, one failure turns every other item into BatchAbortedError and writes nothing. A conflict never
 * names a contact that will not exist after the call: when nothing is written, a holder created by an earlier
 * item is named by that item's index instead.
 */
export function planBatchUpsert(
  validations: readonly UpsertValidation[],
  stored: readonly Contact[],
  options: PlanOptions,
): BatchPlan {
  const byTrackingId = new Map<string, Contact>();
  const byEmail = new Map<string, Contact>();
  const remember = (contact: Contact) => {
    if (contact.trackingId !== null) byTrackingId.set(contact.trackingId, contact);
    byEmail.set(emailKey(contact.email), contact);
  };
  stored.forEach(remember);
  const inserts = new Map<string, Contact>();
  // The item that created each contact new in this batch.
  const createdBy = new Map<string, number>();
  const updates = new Map<string, { contact: Contact; changed: Set<DataField> }>();

  const results = validations.map((validation, index): BatchItemResult => {
    if (validation.kind === "invalid") {
      return { kind: "failed", error: new ValidationError(validation.violations) };
    }
    const input = validation.input;
    const decision = decideUpsert(input, {
      byTrackingId: input.trackingId === undefined ? null : (byTrackingId.get(input.trackingId) ?? null),
      byEmail: input.email === undefined ? null : (byEmail.get(emailKey(input.email)) ?? null),
    });
    if (decision.kind === "reject") return { kind: "failed", error: rejectionError(decision) };
    if (decision.kind === "create") {
      const contact = newContact(input, options.newId(), UNSTAMPED);
      remember(contact);
      inserts.set(contact.id, contact);
      createdBy.set(contact.id, index);
      const outcome = { result: "created", contact, changed: fieldsWithValue(contact) } as const;
      return { kind: "done", outcome, stamp: "created" };
    }
    // The stored update time stays unless something changed; then the commit's tick replaces it.
    const { contact, changed } = applyUpsert(decision.contact, input, decision.contact.updateTime);
    if (changed.length > 0) {
      remember(contact);
      if (inserts.has(contact.id)) {
        inserts.set(contact.id, contact); // created earlier in this batch: insert its final state
      } else {
        const fields = updates.get(contact.id)?.changed ?? new Set<DataField>();
        for (const field of changed) fields.add(field);
        updates.set(contact.id, { contact, changed: fields });
      }
    }
    const stamp = inserts.has(contact.id) ? "created" : updates.has(contact.id) ? "updated" : null;
    return {
      kind: "done",
      outcome: { result: "updated", contact, matchedBy: decision.matchedBy, changed },
      stamp,
    };
  });

  const aborted = options.allOrNone && results.some((r) => r.kind === "failed");
  if (aborted || options.dryRun) {
    const unwritten = results.map((r) => (r.kind === "failed" ? withUnwrittenHolder(r, createdBy) : r));
    if (!aborted) return { results: unwritten, writes: { inserts: [], updates: [] } };
    return {
      results: unwritten.map((r) =>
        r.kind === "failed" ? r : { kind: "failed", error: new BatchAbortedError() },
      ),
      writes: { inserts: [], updates: [] },
    };
  }
  return {
    results,
    writes: {
      inserts: [...inserts.values()],
      updates: [...updates.values()].map(({ contact, changed }) => ({
        contact,
        changed: DATA_FIELDS.filter((f) => changed.has(f)),
      })),
    },
  };
}

/** A conflict with a contact an earlier item created, when nothing is written: named by that item, not its id. */
function withUnwrittenHolder(
  result: Extract<BatchItemResult, { kind: "failed" }>,
  createdBy: ReadonlyMap<string, number>,
): BatchItemResult {
  const { error } = result;
  const holder = error instanceof ConflictError ? error.conflictingContactId : undefined;
  const itemIndex = holder === undefined ? undefined : createdBy.get(holder);
  if (!(error instanceof ConflictError) || itemIndex === undefined) return result;
  const message = `${error.field}: already belongs to the contact that item ${itemIndex} of this batch would create; nothing was written, so that contact does not exist`;
  return {
    kind: "failed",
    error: new ConflictError(message, error.reason, error.field, undefined, itemIndex),
  };
}

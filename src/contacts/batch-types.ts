import type { Contact } from "./contact.js";
import type { BatchAbortedError, ConflictError, ValidationError } from "./errors.js";
import type { DataField } from "./fields.js";
import type { UpsertOutcome } from "./upsert-outcome.js";
import type { RawUpsertRequest } from "./validate-upsert.js";

// The batch's types, which the port (contact-store.ts), the planner and the history all speak.

/** Most items one batch may carry. */
export const MAX_BATCH_ITEMS = 1000;

/** A batch as it arrives: the firm, the items (each with its own, possibly empty, firmId) and the mode. */
export interface RawBatchUpsertRequest {
  readonly firmId: string;
  readonly items: readonly RawUpsertRequest[];
  readonly allOrNone: boolean;
  /** validate_only: preview every item, write nothing. */
  readonly validateOnly?: boolean | undefined;
  /**
   * Set for calls coalesced into one batch (never from the wire): each item's own caller's signal. An item whose
   * signal aborted before the writes are planned is left out, unwritten, as a lone call would have rolled back.
   */
  readonly itemSignals?: readonly (AbortSignal | undefined)[];
}

/** What one item did: exactly what a single upsert would have answered, or the error it would have failed with. */
export type BatchItemResult =
  | {
      readonly kind: "done";
      readonly outcome: UpsertOutcome;
      /**
       * How the commit's tick stamps the item's contact: it was created by this batch (create and update time),
       * changed by it (update time), or neither (its stored times stand).
       */
      readonly stamp: "created" | "updated" | null;
    }
  | { readonly kind: "failed"; readonly error: ValidationError | ConflictError | BatchAbortedError };

/** A contact the batch changes, with every data field any of its items changed. */
export interface ContactChange {
  readonly contact: Contact;
  readonly changed: readonly DataField[];
}

/** The rows a batch writes: each contact once, in its final state. */
export interface BatchWrites {
  readonly inserts: readonly Contact[];
  readonly updates: readonly ContactChange[];
}

/** The keys a batch needs read: every tracking id and email its valid items carry. */
export interface BatchKeys {
  readonly trackingIds: readonly string[];
  readonly emails: readonly string[];
}

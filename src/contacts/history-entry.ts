import type { Actor } from "./actor.js";

/** What a recorded change did to a contact (ListContactChanges' ChangeKind). */
export type ChangeKind = "created" | "updated" | "deleted" | "assigned" | "unassigned";

/** One field a change touched, by proto field name; null is "no value" (or, for an id, not held). */
export interface FieldChange {
  readonly field: string;
  readonly oldValue: string | null;
  readonly newValue: string | null;
}

/** One change of one contact, as a write records it; the commit's tick and the actor are added by the store. */
export interface HistoryEntry {
  readonly contactId: string;
  readonly kind: ChangeKind;
  readonly fields: readonly FieldChange[];
}

/** A recorded change as ListContactChanges reads it back. */
export interface RecordedChange extends HistoryEntry, Actor {
  readonly changeTime: Date;
  /** The change's place among its transaction's changes (a batch's items); orders changes of one tick. */
  readonly seq: number;
}

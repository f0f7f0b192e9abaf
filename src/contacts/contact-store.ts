import type { Actor } from "./actor.js";
import type { AssignmentChange } from "./assignments.js";
import type { BatchKeys, BatchWrites } from "./batch-types.js";
import type { Contact, ListedContact, UpsertInput } from "./contact.js";
import type { UpsertCandidates } from "./decide-upsert.js";
import type { HistoryEntry, RecordedChange } from "./history-entry.js";
import type { ListFilter, ListOrder } from "./list-filter.js";
import type { RequestKey, StoredOutcome } from "./request-key.js";
import type { UpdatableField } from "./update-mask.js";

/** Where a ListContacts page starts: strictly after `time`, or after (time, id) when `id` is set. */
export interface PageStart {
  readonly time: Date;
  readonly id: string | null;
}

/**
 * One page of a firm's contacts in (update_time, id) order, or the reverse with order "desc" (then `after` is the
 * cursor the page continues below and `through` its lower end).
 */
export interface PageQuery {
  readonly firmId: string;
  readonly after: PageStart | null;
  readonly showDeleted: boolean;
  /** Only live contacts that match; never with showDeleted. Absent: every contact. */
  readonly filter?: ListFilter | null;
  readonly order?: ListOrder;
  /** Only rows whose update time is strictly after this (newest first's updated_after). */
  readonly since?: Date | null;
  readonly limit: number;
  /** When set, only rows up to and including this (update time, id). */
  readonly through?: RowPlace;
}

/** A listed contact's place in (update_time, id) order. */
export interface RowPlace {
  readonly time: Date;
  readonly id: string;
}

/**
 * A row's place and its stored size in bytes (its text columns' lengths, no framing): what a page needs to
 * decide how many rows it can hold before reading them.
 */
export interface RowSize<Place> {
  readonly place: Place;
  readonly bytes: number;
}

/** A recorded change's place in a contact's history: its change time and seq. */
export interface ChangePlace {
  readonly time: Date;
  readonly seq: number;
}

/** One page of a contact's changes, newest first: strictly before `before` (a change's time and seq) when set. */
export interface ChangesQuery {
  readonly firmId: string;
  readonly contactId: string;
  readonly before: ChangePlace | null;
  readonly limit: number;
  /** When set, only changes from this one on (newest first: this change and those older than `before`). */
  readonly through?: ChangePlace;
}

/**
 * What the use cases need from storage, inside one transaction. The database implementation lives in src/db;
 * the use cases never see SQL or the ORM. Every contact read comes with its assignments. Every write of a
 * transaction is stamped with the same tick of the firm's clock at commit (see Committed); a transaction that
 * writes nothing takes no tick.
 */
export interface ContactStore {
  /**
   * Reads the contacts the upsert's keys point at, locking the one it may update until the transaction ends:
   * by tracking id when the input has one (and then, only if none matched, by email without a lock, to detect
   * a taken email), otherwise by email. Emails are compared by their emailKey(): ignoring letter case, width and
   * normalisation, nothing else.
   */
  findUpsertCandidates(input: UpsertInput): Promise<UpsertCandidates>;
  /** The firm's live contact with this id, if any; `lock` holds it until the transaction ends. */
  findById(firmId: string, id: string, lock: boolean): Promise<Contact | null>;
  /** The firm's live contact that holds this email (the firm's email identity), if any. Not locked. */
  findByEmail(firmId: string, email: string): Promise<Contact | null>;
  /** The firm's live contact with this tracking id, if any. Not locked. */
  findByTrackingId(firmId: string, trackingId: string): Promise<Contact | null>;
  /**
   * Inserts a new contact, stamped with the commit's tick. The write is sent with the commit: a duplicate key
   * then surfaces from the transaction as the driver's error, which the transaction retries.
   */
  insert(contact: Contact): Promise<void>;
  /** Writes the given fields of a contact read in this transaction, and the commit's tick as its update time. */
  update(contact: Contact, changed: readonly UpdatableField[]): Promise<void>;
  /** Moves a contact read (locked) in this transaction to the tombstones, deleted at the commit's tick. */
  remove(contact: Contact): Promise<void>;
  /** Adds and removes assignments of a contact read (locked) in this transaction, and bumps its update time. */
  changeAssignments(contact: Contact, change: AssignmentChange): Promise<void>;
  /** One page of the firm's contacts (and tombstones, with showDeleted), ordered by (update time, id). */
  listPage(query: PageQuery): Promise<ListedContact[]>;
  /** The places and stored sizes of the rows listPage would return, without reading their values. */
  pageSizes(query: PageQuery): Promise<RowSize<RowPlace>[]>;
  /**
   * Reads, locked until the transaction ends, every live contact of the firm that holds one of the tracking ids
   * or one of the emails (the firm's email identity), with its assignments, in one statement.
   */
  findByKeys(firmId: string, keys: BatchKeys): Promise<Contact[]>;
  /**
   * Writes a batch's rows with multi-row statements stamped with the commit's tick; the last of them travel with
   * the commit, earlier ones (only when the rows would not fit one packet) in round trips before it.
   */
  writeBatch(firmId: string, writes: BatchWrites): Promise<void>;
  /**
   * Records changes of the firm's contacts made by `actor`, in order, stamped with the commit's tick (the
   * update or delete time the change produced). Nothing for an empty list.
   */
  recordChanges(firmId: string, actor: Actor, entries: readonly HistoryEntry[]): Promise<void>;
  /** One page of a contact's recorded changes, newest first (a live or deleted contact's alike). */
  listChanges(query: ChangesQuery): Promise<RecordedChange[]>;
  /** The places and stored sizes of the changes listChanges would return, without reading them. */
  changeSizes(query: ChangesQuery): Promise<RowSize<ChangePlace>[]>;
  /** Whether the firm has the contact, live or deleted (its tombstone not purged). */
  contactExists(firmId: string, id: string): Promise<boolean>;
  /**
   * Takes the request id for this transaction, as its first lock (see request-ids.ts), and returns null; or,
   * when a transaction that took it has committed, returns the outcome it stored. Waits while another
   * transaction holds it.
   */
  claimRequestId(key: RequestKey): Promise<StoredOutcome | null>;
  /** Stores the outcome of the request id this transaction claimed, with the commit (and its tick, if any). */
  saveRequestOutcome(key: RequestKey, outcome: string): Promise<void>;
}

/**
 * What a transaction returned, and the firm clock's tick its writes carry (null when it wrote nothing). A dry
 * run's tick is the one a commit would have taken when it ended; it was not taken.
 */
export interface Committed<T> {
  readonly value: T;
  readonly tick: Date | null;
}

/** How a transaction ends. */
export interface TransactMode {
  /** Read as a real call would (locks included), then roll back: nothing written, the firm clock not ticked. */
  readonly dryRun?: boolean;
}

/** Runs `work` in one database transaction, retrying the whole of it on transient conflicts. */
export type Transact = <T>(
  work: (store: ContactStore) => Promise<T>,
  signal?: AbortSignal,
  mode?: TransactMode,
) => Promise<Committed<T>>;

import type { Contact, UpsertInput } from "./contact.js";
import type { UpsertCandidates } from "./decide-upsert.js";
import type { DataField } from "./fields.js";

/**
 * What the use cases need from storage, inside one transaction. The database implementation lives in src/db;
 * the use cases never see SQL or the ORM.
 */
export interface ContactStore {
  /**
   * Reads the contacts the upsert's keys point at, locking the one it may update until the transaction ends:
   * by tracking id when the input has one (and then, only if none matched, by email without a lock, to detect
   * a taken email), otherwise by email. Emails are compared by their emailKey(): ignoring letter case, width and
   * normalisation, nothing else.
   */
  findUpsertCandidates(input: UpsertInput): Promise<UpsertCandidates>;
  /**
   * Inserts a new contact. The write may be sent with the commit: a duplicate key then surfaces from the
   * transaction as the driver's error, which the transaction retries.
   */
  insert(contact: Contact): Promise<void>;
  /** Writes the given fields and the update time of a contact read in this transaction (possibly at commit). */
  update(contact: Contact, changed: readonly DataField[]): Promise<void>;
}

/** Runs `work` in one database transaction, retrying the whole of it on transient conflicts. */
export type Transact = <T>(work: (store: ContactStore) => Promise<T>, signal?: AbortSignal) => Promise<T>;

import type { RecordedChange } from "../contacts/history-entry.js";

/** The moment before any change: a firm whose clock never ticked is at it, and a watch from it sees everything. */
export const ORIGIN = new Date(0);

/**
 * What the change feed reads, each call one statement outside any transaction (the connections are READ
 * COMMITTED, so each sees what committed before it began). The database implementation is in src/db.
 */
export interface FeedStore {
  /**
   * The clock of each firm that has one (its last committed tick), in one statement. Every change of the firm
   * stamped at or before that time has committed, since a tick is taken under the clock's row lock held to commit.
   */
  readClocks(firmIds: readonly string[]): Promise<Map<string, Date>>;
  /**
   * The firm's changes with after < change_time <= upTo, in commit order (change_time, seq, contact), at most
   * `limit` of them.
   */
  readChanges(firmId: string, after: Date, upTo: Date, limit: number): Promise<RecordedChange[]>;
}

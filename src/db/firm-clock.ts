/**
 * The firm clock: every transaction that writes a firm's data takes one tick of that firm's clock in its commit
 * round trip, and every row it writes carries that tick as its update_time (and create_time on insert).
 *
 * Why: incremental sync pages with `updated_after = largest update_time seen`, so a change must never become
 * visible with a time at or below one a reader has already seen. Times taken by the application before commit
 * break that (transactions commit out of order, and instances have their own clocks). The tick is taken from the
 * database's clock under the firm's clock row lock, which the transaction holds until it commits: the firm's
 * commits are serialised for the length of their last round trip only, and each gets a time strictly after the
 * previous one's (`GREATEST(now, last + 1 ms)`), so update_time follows commit order within a firm. Under more
 * than 1000 commits a second the clock runs ahead of wall time, which is harmless. Milliseconds end to end: the
 * time the client sees is exactly the stored one.
 *
 * Lock order: a transaction locks the contact rows it reads before the clock; under the clock it writes them, and
 * claims its unique keys (inserts, email or tracking id changes) in the statements that stamp them with the tick.
 * Every such claim is made under the clock, so none waits on another's uncommitted key. The exception is a
 * transaction too large for one round trip (a big batch): it claims its keys before the clock and stamps them
 * after. A write under the clock that meets one of its keys, or a row committed after its own read and locked by a
 * reader, can close a cycle with the clock: InnoDB detects the deadlock and the transaction is retried.
 */

/** How a deferred write refers to its transaction's tick: a session variable set in the same round trip. */
export const TICK = "@contacts_tick";

/**
 * The statement that starts the commit round trip: advance the firm's clock and keep the tick in TICK. One
 * statement, not an insert and a read of the row: the tick is assigned where it is computed (a new clock's value
 * in VALUES, an existing clock's in the update), which spares the database two statements per commit.
 */
export function takeTick(firmId: string): [string, unknown[]][] {
  return [
    // One unique key (the primary key), so ON DUPLICATE KEY UPDATE is safe; the row lock lasts until COMMIT.
    // MariaDB has no MILLISECOND interval unit; both values have whole milliseconds, as the column stores them.
    [
      `INSERT INTO firm_clocks (firm_id, last_time) VALUES (?, ${TICK} := UTC_TIMESTAMP(3)) ` +
        `ON DUPLICATE KEY UPDATE last_time = (${TICK} := GREATEST(UTC_TIMESTAMP(3), last_time + INTERVAL 1000 MICROSECOND))`,
      [firmId],
    ],
  ];
}

/** The statement that reads the tick back before COMMIT, as a typed DATETIME column (a variable reads as text). */
export function readTick(_firmId: string): [string, unknown[]] {
  return [`SELECT CAST(${TICK} AS DATETIME(3)) AS tick`, []];
}

/**
 * The statement a dry run ends with: the tick a commit would take now, read without taking it (no lock, no
 * write), so a preview shows the times its contacts would carry without moving the clock.
 */
export function peekTick(firmId: string): [string, unknown[]] {
  return [
    "SELECT CAST(GREATEST(UTC_TIMESTAMP(3), COALESCE((SELECT last_time + INTERVAL 1000 MICROSECOND " +
      "FROM firm_clocks WHERE firm_id = ?), UTC_TIMESTAMP(3))) AS DATETIME(3)) AS tick",
    [firmId],
  ];
}

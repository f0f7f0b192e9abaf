import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { classifyDbError } from "./db-errors.js";
import type { Queryable } from "./galera.js";

const LOCK_NAME = "contacts_service_migrations";

/** How long the migration lock is waited for and held without renewal. */
export interface MigrationLockTiming {
  /** Longest wait for another instance's migrations to finish; past it startup fails. */
  readonly waitMs: number;
  /** A holder that stops renewing (it crashed) loses the lock after this long. Renewed every third of it. */
  readonly leaseMs: number;
  /** Time between two attempts while another instance holds the lock. */
  readonly pollMs: number;
}

export const MIGRATION_LOCK_TIMING: MigrationLockTiming = Object.freeze({
  waitMs: 120_000,
  leaseMs: 60_000,
  pollMs: 250,
});

/**
 * Takes the lock under which one instance runs the migrations while the others wait, and returns its release.
 * On a single server a named lock (GET_LOCK), freed by the server if the holder dies. On a Galera cluster
 * GET_LOCK holds on one node only, so two instances on two nodes would migrate at once ("Table already exists"):
 * there the lock is a row of `service_locks`, written by a replicated INSERT with a lease, which a certification
 * conflict between two nodes settles (the loser gets 1213 and tries again). The table is made here, not by a
 * migration, because it must exist before the migrations run. `database` is the service's database, in which the
 * row is kept (the connection need not have it selected).
 */
export async function takeMigrationLock(
  connection: Queryable,
  cluster: boolean,
  database: string,
  timing: MigrationLockTiming = MIGRATION_LOCK_TIMING,
): Promise<() => Promise<void>> {
  if (!cluster) {
    const [[row]] = (await connection.query("SELECT GET_LOCK(?, ?) AS taken", [
      LOCK_NAME,
      Math.ceil(timing.waitMs / 1000),
    ])) as [{ taken: number | null }[]];
    if (row?.taken !== 1) throw lockTimeout(timing);
    return async () => {
      await connection.query("SELECT RELEASE_LOCK(?)", [LOCK_NAME]).catch(() => undefined);
    };
  }
  const table = `\`${database.replaceAll("`", "``")}\`.service_locks`;
  await connection.query(
    `CREATE TABLE IF NOT EXISTS ${table} (name VARCHAR(64) NOT NULL PRIMARY KEY, ` +
      "holder CHAR(36) NOT NULL, expires_at DATETIME(3) NOT NULL) ENGINE=InnoDB",
  );
  const holder = randomUUID();
  const deadline = Date.now() + timing.waitMs;
  while (!(await claim(connection, table, holder, timing.leaseMs))) {
    if (Date.now() > deadline) throw lockTimeout(timing);
    await sleep(timing.pollMs);
  }
  const renewal = setInterval(() => {
    claim(connection, table, holder, timing.leaseMs).catch(() => undefined);
  }, timing.leaseMs / 3);
  renewal.unref();
  return async () => {
    clearInterval(renewal);
    await connection
      .query(`DELETE FROM ${table} WHERE name = ? AND holder = ?`, [LOCK_NAME, holder])
      .catch(() => undefined);
  };
}

/**
 * Takes the lock row if it is free or expired, or extends it if `holder` has it; true when `holder` has it now.
 * The assignments run left to right: expires_at is extended only when holder is (now) ours.
 */
async function claim(
  connection: Queryable,
  table: string,
  holder: string,
  leaseMs: number,
): Promise<boolean> {
  try {
    await connection.query(
      `INSERT INTO ${table} (name, holder, expires_at) VALUES (?, ?, UTC_TIMESTAMP(3) + INTERVAL ? SECOND) ` +
        "ON DUPLICATE KEY UPDATE holder = IF(expires_at < UTC_TIMESTAMP(3), VALUES(holder), holder), " +
        "expires_at = IF(holder = VALUES(holder), VALUES(expires_at), expires_at)",
      [LOCK_NAME, holder, leaseMs / 1000],
    );
  } catch (error) {
    // Another node's claim won certification (or a lock wait): try again after the poll interval.
    if (classifyDbError(error) === "other") throw error;
    return false;
  }
  const [[row]] = (await connection.query(`SELECT holder FROM ${table} WHERE name = ?`, [LOCK_NAME])) as [
    { holder: string }[],
  ];
  return row?.holder === holder;
}

function lockTimeout(timing: MigrationLockTiming): Error {
  return new Error(
    `another instance held the migration lock for more than ${timing.waitMs} ms (its migrations may be stuck)`,
  );
}

/** How a database failure should be handled. */
export type DbFailure = "duplicate" | "deadlock" | "lock_timeout" | "unavailable" | "overloaded" | "other";

// Server error numbers (MySQL and MariaDB share them).
const BY_ERRNO: Readonly<Record<number, DbFailure>> = {
  1062: "duplicate", // ER_DUP_ENTRY
  1213: "deadlock", // ER_LOCK_DEADLOCK; on Galera also a certification conflict or a brute-force abort
  1205: "lock_timeout", // ER_LOCK_WAIT_TIMEOUT
  1040: "unavailable", // ER_CON_COUNT_ERROR
  1053: "unavailable", // ER_SERVER_SHUTDOWN
  1927: "unavailable", // MariaDB ER_CONNECTION_KILLED
  1317: "unavailable", // ER_QUERY_INTERRUPTED (KILL QUERY, server shutting down)
  1290: "unavailable", // ER_OPTION_PREVENTS_STATEMENT (--read-only: a replica, or a primary mid-failover)
  1792: "unavailable", // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
  1836: "unavailable", // ER_READ_ONLY_MODE
  2002: "unavailable",
  2003: "unavailable",
  2006: "unavailable", // server has gone away
  2013: "unavailable", // lost connection during query
  4031: "unavailable", // MySQL 8: disconnected for inactivity
  // Galera: a node that is joining, donating, or has lost quorum refuses work until it is synced again; another
  // node (or the same one a moment later) takes the retried transaction. See docs/galera.md.
  1047: "unavailable", // ER_UNKNOWN_COM_ERROR: "WSREP has not yet prepared node for application use"
  1180: "unavailable", // ER_ERROR_DURING_COMMIT: the commit was not replicated (wsrep), rolled back
};

// Client-side codes from Node's sockets and mysql2.
const BY_CODE: Readonly<Record<string, DbFailure>> = {
  ECONNREFUSED: "unavailable",
  ECONNRESET: "unavailable",
  EPIPE: "unavailable",
  ETIMEDOUT: "unavailable",
  EHOSTUNREACH: "unavailable",
  ENOTFOUND: "unavailable",
  EAI_AGAIN: "unavailable",
  PROTOCOL_CONNECTION_LOST: "unavailable",
  PROTOCOL_SEQUENCE_TIMEOUT: "unavailable",
  ER_CON_COUNT_ERROR: "unavailable",
};

/** Classifies an error thrown by TypeORM or mysql2, looking through TypeORM's QueryFailedError wrapper. */
export function classifyDbError(error: unknown): DbFailure {
  const candidates = [error, (error as { driverError?: unknown } | null)?.driverError];
  for (const candidate of candidates) {
    if (typeof candidate !== "object" || candidate === null) continue;
    const { errno, code, message } = candidate as { errno?: unknown; code?: unknown; message?: unknown };
    if (typeof errno === "number" && BY_ERRNO[errno]) return BY_ERRNO[errno];
    if (typeof code === "string" && BY_CODE[code]) return BY_CODE[code];
    // mysql2's pool rejects with plain errors once closed or when a connection was torn down.
    if (typeof message === "string" && /Pool is closed|connection is in closed state/i.test(message)) {
      return "unavailable";
    }
    // mysql2's pool refuses a wait beyond its queueLimit: retrying at once would only meet the same full queue.
    if (typeof message === "string" && /Queue limit reached/i.test(message)) return "overloaded";
  }
  return "other";
}

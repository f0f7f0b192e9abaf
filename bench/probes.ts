import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { promisify } from "node:util";
import type { Connection, RowDataPacket } from "mysql2/promise";

/** A process's peak resident set size (VmHWM) in MiB, from /proc/<pid>/status. */
export async function peakRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
  return kib === undefined ? Number.NaN : Number(kib) / 1024;
}

/** A process's current resident set size (VmRSS) in MiB, from /proc/<pid>/status. */
export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  return kib === undefined ? Number.NaN : Number(kib) / 1024;
}

/**
 * Resets a process's peak RSS to its current RSS (Linux 4.0+: "5" to /proc/<pid>/clear_refs), so that VmHWM
 * read later is the peak of one row. Returns false where that is not allowed; the peak is then the lifetime's.
 */
export async function resetPeakRss(pid: number): Promise<boolean> {
  try {
    await writeFile(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** The pid of the local mariadbd (or mysqld), or undefined when the database runs elsewhere. */
export async function databasePid(): Promise<number | undefined> {
  for (const name of ["mariadbd", "mysqld"]) {
    try {
      const { stdout } = await promisify(execFile)("pgrep", ["-x", name], { timeout: 5_000 });
      const pid = Number(stdout.trim().split("\n")[0]);
      if (Number.isInteger(pid) && pid > 0) return pid;
    } catch {
      // pgrep exits 1 when nothing matches
    }
  }
  return undefined;
}

/** The server-wide statement counters (SHOW GLOBAL STATUS) read before and after each row. */
export const STATUS_COUNTERS = [
  "Questions",
  "Com_select",
  "Com_insert",
  "Com_update",
  "Com_begin",
  "Com_commit",
  "Com_rollback",
  "Com_set_option",
  "Com_show_status",
  "Com_stmt_execute",
  "Handler_read_key",
  "Handler_read_next",
  "Handler_read_rnd_next",
  "Handler_write",
  "Handler_update",
  "Handler_delete",
  "Handler_commit",
  "Handler_tmp_write",
  "Created_tmp_tables",
  "Rows_read",
  "Rows_sent",
  "Sort_rows",
  "Innodb_row_lock_waits",
  "Innodb_row_lock_time",
  "Innodb_buffer_pool_write_requests",
  "Innodb_os_log_written",
] as const;
export type StatusCounter = (typeof STATUS_COUNTERS)[number];
export type StatusCounters = Record<StatusCounter, number>;

/** Reads the counters with SHOW GLOBAL STATUS (which itself counts as one question and one Com_show_status). */
export async function globalStatus(connection: Connection): Promise<StatusCounters> {
  const [rows] = await connection.query<RowDataPacket[]>(
    `SHOW GLOBAL STATUS WHERE Variable_name IN (${STATUS_COUNTERS.map(() => "?").join(", ")})`,
    [...STATUS_COUNTERS],
  );
  const counters = Object.fromEntries(STATUS_COUNTERS.map((name) => [name, 0])) as StatusCounters;
  for (const row of rows) {
    const name = String(row.Variable_name) as StatusCounter;
    if (name in counters) counters[name] = Number(row.Value);
  }
  return counters;
}

/**
 * Statements the whole server ran between two readings, less the status reads themselves. Server-wide: other
 * users of the database count too, so this is only a cross-check of the per-process counts.
 */
export function questionsBetween(before: StatusCounters, after: StatusCounters): number {
  return after.Questions - before.Questions - (after.Com_show_status - before.Com_show_status);
}

/** Each counter's change between two readings (server-wide: other users of the database count too). */
export function countersBetween(before: StatusCounters, after: StatusCounters): StatusCounters {
  return Object.fromEntries(
    STATUS_COUNTERS.map((name) => [name, after[name] - before[name]]),
  ) as StatusCounters;
}

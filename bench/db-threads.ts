import { readdir, readFile } from "node:fs/promises";
import type { Connection, RowDataPacket } from "mysql2/promise";

/** Clock ticks per second of /proc stat times (USER_HZ, 100 on every Linux build that matters). */
const TICKS_PER_SECOND = 100;

/** CPU time (user + system) in ms from the text of a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat file. */
export function cpuMsFromStat(stat: string): number {
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/** CPU time a process has used so far, in ms, from /proc/<pid>/stat (exited threads included). */
export async function processCpuMs(pid: number): Promise<number> {
  return cpuMsFromStat(await readFile(`/proc/${pid}/stat`, "utf8"));
}

/** The database server's CPU: the whole process, and each of its live threads, in ms. */
export interface DbCpu {
  readonly processMs: number;
  readonly threadMs: ReadonlyMap<number, number>;
}

export async function readDbCpu(pid: number): Promise<DbCpu> {
  const processMs = await processCpuMs(pid);
  const threadMs = new Map<number, number>();
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    try {
      threadMs.set(Number(tid), cpuMsFromStat(await readFile(`/proc/${pid}/task/${tid}/stat`, "utf8")));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return { processMs, threadMs };
}

/**
 * Learns which mariadbd threads serve which connections (one thread per connection, PROCESSLIST.TID), from
 * readings taken during a row: a thread seen serving the bench database is the bench's; one seen serving any
 * other connection (another database, another user's tests, this monitor) is someone else's; a thread never
 * seen in PROCESSLIST is a server background thread (InnoDB purge, page cleaner, log writer).
 */
export function threadClassifier(monitor: Connection, database: string) {
  const ours = new Set<number>();
  const others = new Set<number>();
  let monitorId: number | undefined;
  return {
    async observe(): Promise<void> {
      if (monitorId === undefined) {
        const [[row]] = await monitor.query<RowDataPacket[]>("SELECT CONNECTION_ID() AS id");
        monitorId = Number(row?.id);
      }
      const [rows] = await monitor.query<RowDataPacket[]>(
        "SELECT ID, DB, TID FROM information_schema.PROCESSLIST",
      );
      for (const row of rows) {
        const tid = Number(row.TID);
        if (!(tid > 0)) continue;
        if (row.DB === database && Number(row.ID) !== monitorId) ours.add(tid);
        else others.add(tid);
      }
    },
    classify(tid: number): "ours" | "others" | "background" {
      if (ours.has(tid) && !others.has(tid)) return "ours";
      // A cached thread reused between a bench connection and another: rare, and given to the others.
      if (others.has(tid)) return "others";
      return "background";
    },
  };
}

/** Where the database's CPU went between two readings, in ms. */
export interface DbCpuShare {
  /** Threads of the bench's connections. */
  readonly oursMs: number;
  /** Threads never seen serving a connection: InnoDB's background work, most of it caused by the writes. */
  readonly backgroundMs: number;
  /** Threads serving other connections: other users of the server, excluded. */
  readonly othersMs: number;
  /** The whole process, as /proc/<pid>/stat counts it (includes threads that ended in the window). */
  readonly processMs: number;
}

export function shareDbCpu(
  before: DbCpu,
  after: DbCpu,
  classify: (tid: number) => "ours" | "others" | "background",
): DbCpuShare {
  const share = { oursMs: 0, backgroundMs: 0, othersMs: 0 };
  for (const [tid, ms] of after.threadMs) {
    const delta = ms - (before.threadMs.get(tid) ?? 0);
    share[`${classify(tid)}Ms`] += delta;
  }
  return { ...share, processMs: after.processMs - before.processMs };
}

/** What settling the database took: how long, and whether its background threads went quiet in time. */
export interface Settled {
  readonly waitedMs: number;
  readonly quiet: boolean;
}

/**
 * Waits until mariadbd's background threads (InnoDB purge, page cleaner, log writer) are quiet: less than
 * `quietMs` of CPU in each of two polls `pollMs` apart, or `maxMs` at most. Polls PROCESSLIST too, so a thread
 * that starts serving a connection meanwhile is not taken for background work.
 */
export async function settleDb(
  dbPid: number,
  threads: ReturnType<typeof threadClassifier>,
  { pollMs = 500, quietMs = 10, maxMs = 30_000 } = {},
): Promise<Settled> {
  const started = performance.now();
  const background = async () => {
    await threads.observe();
    const cpu = await readDbCpu(dbPid);
    let ms = 0;
    for (const [tid, t] of cpu.threadMs) if (threads.classify(tid) === "background") ms += t;
    return { cpu, ms };
  };
  let last = await background();
  let quietPolls = 0;
  while (performance.now() - started < maxMs) {
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    const now = await background();
    // A thread that ended counts as no work; one that started counts from zero.
    quietPolls = now.ms - last.ms < quietMs ? quietPolls + 1 : 0;
    last = now;
    if (quietPolls >= 2) return { waitedMs: performance.now() - started, quiet: true };
  }
  return { waitedMs: performance.now() - started, quiet: false };
}

import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import os from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type { Connection } from "mysql2/promise";
import {
  type DbCpu,
  type DbCpuShare,
  processCpuMs,
  readDbCpu,
  type Settled,
  settleDb,
  shareDbCpu,
  threadClassifier,
} from "./db-threads.js";
import type { FromLoad, LoadResult, LoadSpec, Target } from "./messages.js";
import {
  countersBetween,
  globalStatus,
  peakRssMiB,
  questionsBetween,
  resetPeakRss,
  rssMiB,
  type StatusCounter,
  type StatusCounters,
} from "./probes.js";
import {
  noStatements,
  STATEMENT_KINDS,
  type StatementCounts,
  type StatementKind,
  statementsBetween,
} from "./statement-counter.js";

/** Which line of the table a row is: the service itself or one of its two references. */
export type RowKind = "service" | "floor" | "db";

/** One measured row, before ratios: everything per call is divided by the calls completed in the window. */
export interface Measurement {
  readonly kind: RowKind;
  readonly path: Target;
  readonly concurrency: number;
  readonly load: LoadResult;
  readonly callsPerSecond: number;
  /** The server process's CPU per call, µs (null for the db reference, which has no server). */
  readonly serverCpuUsPerCall: number | null;
  /** The load generator's CPU per call, µs; for the db reference this is the mysql2 driver's side. */
  readonly clientCpuUsPerCall: number;
  /**
   * mariadbd's CPU per call, µs: the threads of the bench's connections plus the server's background threads,
   * not the threads of other users' connections (null when the database is not on this machine).
   */
  readonly dbCpuUsPerCall: number | null;
  /** The database CPU of the window by owner, ms; processMs is the whole mariadbd process. */
  readonly dbCpuMs: DbCpuShare | null;
  /**
   * With settling: the database CPU by owner from the row's start (the database settled) until it settled again
   * after the row, ms. Its background part is the row's own and only its own, charged per call over
   * `load.allCalls`.
   */
  readonly dbCpuRowMs: DbCpuShare | null;
  /** How long the database took to settle before and after the row (null without settling). */
  readonly settled: { readonly before: Settled; readonly after: Settled } | null;
  /** mariadbd's CPU per call in the window alone (connection threads plus whatever background ran then), µs. */
  readonly dbCpuWindowUsPerCall: number | null;
  /** SHOW GLOBAL STATUS counters per call over the window (server-wide: other users inflate them). */
  readonly statusPerCall: Readonly<Record<StatusCounter, number>>;
  /** Statements the bench's processes sent per call (counted in mysql2), and by kind. */
  readonly statementsPerCall: number;
  readonly statementMix: Readonly<Record<StatementKind, number>>;
  /** SHOW GLOBAL STATUS Questions per call: server-wide, so other users of the database inflate it. */
  readonly serverWideStatementsPerCall: number;
  /** Peak RSS of the server process during the row (warm-up included), MiB. */
  readonly peakRssMiB: number | null;
  /** The server's RSS when the row began, MiB: the peak less this is the memory the row's load added. */
  readonly rssAtStartMiB: number | null;
  /** The machine's one-minute load average as the row ended: how busy the shared cores were. */
  readonly loadAverage: number;
}

/** A server a row loads: its pid for /proc, and its running count of statements sent. */
export interface LoadedServer {
  readonly pid: number;
  statements(): Promise<StatementCounts>;
}

/** What every row needs from the run. */
export interface RowContext {
  /** A connection to the bench database for the probes. */
  readonly monitor: Connection;
  readonly database: string;
  readonly dbPid: number | undefined;
  readonly loadScript: string;
  readonly seconds: number;
  /** Let the database's background threads go quiet before and after each row (see settleDb). */
  readonly settle: boolean;
}

interface Snapshot {
  readonly at: number;
  readonly serverCpuMs: number;
  readonly serverStatements: StatementCounts;
  readonly db: DbCpu | undefined;
  readonly status: StatusCounters;
}

async function snapshot(context: RowContext, server: LoadedServer | undefined): Promise<Snapshot> {
  const [status, db, serverCpuMs, serverStatements] = await Promise.all([
    globalStatus(context.monitor),
    context.dbPid === undefined ? undefined : readDbCpu(context.dbPid),
    server === undefined ? 0 : processCpuMs(server.pid),
    server === undefined ? noStatements() : server.statements(),
  ]);
  return { at: performance.now(), serverCpuMs, serverStatements, db, status };
}

/** Waits for one message of a type from a load generator, failing on its exit or after `ms`. */
async function nextMessage<T extends FromLoad["type"]>(child: ChildProcess, type: T, ms: number) {
  return new Promise<Extract<FromLoad, { type: T }>>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`load generator sent no "${type}" within ${ms} ms`)), ms);
    const onMessage = (message: FromLoad) => {
      if (message.type === type) finish(undefined, message as Extract<FromLoad, { type: T }>);
    };
    const onExit = (code: number | null) =>
      finish(new Error(`load generator exited (${code}) before "${type}"`));
    const finish = (error?: Error, message?: Extract<FromLoad, { type: T }>) => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
      if (error) reject(error);
      else if (message) resolve(message);
    };
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

/**
 * Runs one row: forks a load generator, lets it warm up, reads every counter around a window of `seconds`
 * (watching which database threads serve the bench meanwhile), and divides by the calls that completed in it.
 * The load generator is always reaped.
 */
export async function measureRow(
  context: RowContext,
  kind: RowKind,
  spec: LoadSpec,
  server?: LoadedServer,
): Promise<Measurement> {
  if (server !== undefined) await resetPeakRss(server.pid);
  const rssAtStartMiB = server === undefined ? null : await rssMiB(server.pid);
  const threads = threadClassifier(context.monitor, context.database);
  await threads.observe();
  const settle = context.settle && context.dbPid !== undefined;
  const settledBefore = settle ? await settleDb(context.dbPid as number, threads) : null;
  const rowStartDb = settle ? await readDbCpu(context.dbPid as number) : undefined;
  const child = fork(context.loadScript, [JSON.stringify(spec)], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    execArgv: [],
  });
  try {
    await nextMessage(child, "warm", (spec.warmupSeconds + 30) * 1000);
    await threads.observe();
    const before = await snapshot(context, server);
    child.send({ type: "measure" });
    const windowEnd = performance.now() + context.seconds * 1000;
    while (performance.now() < windowEnd) {
      await sleep(Math.min(200, Math.max(0, windowEnd - performance.now())));
      await threads.observe();
    }
    const after = await snapshot(context, server);
    child.send({ type: "stop" });
    const { result } = await nextMessage(child, "result", 30_000);
    await Promise.race([once(child, "exit"), sleep(10_000)]);
    const settledAfter = settle ? await settleDb(context.dbPid as number, threads) : null;
    const rowEndDb = settle ? await readDbCpu(context.dbPid as number) : undefined;

    // The counters' window and the load generator's differ by the time a snapshot takes: scale the calls.
    const calls = result.windowMs > 0 ? (result.calls * (after.at - before.at)) / result.windowMs : 0;
    const perCall = (total: number) => (calls > 0 ? total / calls : Number.NaN);
    const serverStatements = statementsBetween(before.serverStatements, after.serverStatements);
    // The server's statements fall in the counters' window, the raw reference's in the load generator's.
    const statementMix = {} as Record<StatementKind, number>;
    for (const k of STATEMENT_KINDS) {
      statementMix[k] = perCall(serverStatements[k]) + result.statements[k] / Math.max(1, result.calls);
    }
    const dbCpuMs = before.db && after.db ? shareDbCpu(before.db, after.db, threads.classify) : null;
    const dbCpuRowMs = rowStartDb && rowEndDb ? shareDbCpu(rowStartDb, rowEndDb, threads.classify) : null;
    const dbCpuWindowUsPerCall =
      dbCpuMs === null ? null : perCall((dbCpuMs.oursMs + dbCpuMs.backgroundMs) * 1000);
    // Settled: the connection threads' CPU of the window, plus the row's whole background work over all its calls.
    const dbCpuUsPerCall =
      dbCpuMs !== null && dbCpuRowMs !== null
        ? perCall(dbCpuMs.oursMs * 1000) + (dbCpuRowMs.backgroundMs * 1000) / Math.max(1, result.allCalls)
        : dbCpuWindowUsPerCall;
    const status = countersBetween(before.status, after.status);
    const statusPerCall = Object.fromEntries(
      Object.entries(status).map(([name, value]) => [name, perCall(value)]),
    ) as Record<StatusCounter, number>;
    return {
      kind,
      path: spec.target,
      concurrency: spec.concurrency,
      load: result,
      callsPerSecond: result.windowMs > 0 ? (result.calls * 1000) / result.windowMs : 0,
      serverCpuUsPerCall:
        server === undefined ? null : perCall((after.serverCpuMs - before.serverCpuMs) * 1000),
      clientCpuUsPerCall: result.calls > 0 ? (result.cpuMs * 1000) / result.calls : Number.NaN,
      dbCpuUsPerCall,
      dbCpuMs,
      dbCpuRowMs,
      settled: settledBefore && settledAfter ? { before: settledBefore, after: settledAfter } : null,
      dbCpuWindowUsPerCall,
      statusPerCall,
      statementsPerCall: STATEMENT_KINDS.reduce((sum, k) => sum + statementMix[k], 0),
      statementMix,
      serverWideStatementsPerCall: perCall(questionsBetween(before.status, after.status)),
      peakRssMiB: server === undefined ? null : await peakRssMiB(server.pid),
      rssAtStartMiB,
      loadAverage: os.loadavg()[0] ?? Number.NaN,
    };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}

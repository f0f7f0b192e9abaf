import type { Measurement } from "./measure-row.js";
import type { Target } from "./messages.js";
import type { StatusCounter } from "./probes.js";

/** Ratios of a row to the two references measured at the same concurrency (and path, for the floor). */
export interface Ratios {
  /**
   * The series limit S* = 1 / (1/floor + 1/db limit), calls/s: what a service doing the floor's RPC work plus the
   * raw driver's database work could reach on the same cores, since their CPU per call adds up. Service rows only.
   */
  readonly seriesLimit: number | null;
  /** calls/s over S*: 1.00x means the service adds nothing to the sum of its two references. */
  readonly throughputVsSeries: number | null;
  /** calls/s of this row over the db reference's; the service's share of what the database alone does. */
  readonly throughputVsDb: number | null;
  /** calls/s over the framework floor's on the same path. */
  readonly throughputVsFloor: number | null;
  readonly p50VsDb: number | null;
  readonly p50VsFloor: number | null;
  readonly p99VsDb: number | null;
  readonly p99VsFloor: number | null;
}

export type BenchRow = Measurement & { readonly ratios: Ratios };

/** The results file: what ran, where, and every row with its ratios. */
export interface BenchReport {
  readonly schema: "contacts-bench/1";
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly environment: Readonly<Record<string, unknown>>;
  readonly config: Readonly<Record<string, unknown>>;
  readonly rows: readonly BenchRow[];
  /** Every measurement of every round, when there was more than one. */
  readonly rounds?: readonly Measurement[];
}

const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || !(b > 0) ? null : a / b;

/** S* of a floor and a db limit in calls/s: their CPU per call adds up, so their rates add harmonically. */
export function seriesLimitOf(floor: number | undefined, db: number | undefined): number | null {
  return floor === undefined || db === undefined || !(floor > 0) || !(db > 0)
    ? null
    : 1 / (1 / floor + 1 / db);
}

/** Adds to each row its ratios to the db reference and the framework floor of the same concurrency. */
export function withRatios(rows: readonly Measurement[]): BenchRow[] {
  const find = (kind: Measurement["kind"], concurrency: number, path?: Target) =>
    rows.find(
      (r) => r.kind === kind && r.concurrency === concurrency && (path === undefined || r.path === path),
    );
  return rows.map((row) => {
    const db = find("db", row.concurrency);
    const floor = row.kind === "db" ? undefined : find("floor", row.concurrency, row.path);
    const seriesLimit =
      row.kind === "service" && row.path !== "grpc-batch"
        ? seriesLimitOf(floor?.callsPerSecond, db?.callsPerSecond)
        : null;
    return {
      ...row,
      ratios: {
        seriesLimit,
        throughputVsSeries: ratio(row.callsPerSecond, seriesLimit ?? undefined),
        throughputVsDb: ratio(row.callsPerSecond, db?.callsPerSecond),
        throughputVsFloor: ratio(row.callsPerSecond, floor?.callsPerSecond),
        p50VsDb: ratio(row.load.latencyMs.p50, db?.load.latencyMs.p50),
        p50VsFloor: ratio(row.load.latencyMs.p50, floor?.load.latencyMs.p50),
        p99VsDb: ratio(row.load.latencyMs.p99, db?.load.latencyMs.p99),
        p99VsFloor: ratio(row.load.latencyMs.p99, floor?.load.latencyMs.p99),
      },
    };
  });
}

/** Per kind, path and concurrency, the round with the median calls/s (the lower one of an even count). */
export function medianRounds(measurements: readonly Measurement[]): Measurement[] {
  const groups = new Map<string, Measurement[]>();
  for (const m of measurements) {
    const key = `${m.kind} ${m.path} ${m.concurrency}`;
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  return [...groups.values()].map((group) => {
    const sorted = [...group].sort((a, b) => a.callsPerSecond - b.callsPerSecond);
    return sorted[Math.floor((sorted.length - 1) / 2)] as Measurement;
  });
}

/** A row's name in the table and the chart. */
export function rowLabel(row: Pick<Measurement, "kind" | "path">): string {
  const path =
    row.path === "grpc"
      ? "gRPC"
      : row.path === "connect-json"
        ? "Connect JSON h1"
        : row.path === "grpc-batch"
          ? "gRPC batch, per contact"
          : "mysql2";
  return row.kind === "db"
    ? "db limit (mysql2, no RPC)"
    : `${row.kind === "service" ? "service" : "floor"}, ${path}`;
}

const fixed = (value: number | null, digits: number) =>
  value === null || Number.isNaN(value) ? "-" : value.toFixed(digits);
const ms = (value: number) => fixed(value, value < 10 ? 2 : 1);
const times = (value: number | null) => (value === null ? "" : `${value.toFixed(2)}x`);

/**
 * The one table, as Markdown: per concurrency the db limit, then per path the service and its floor. Ratios are
 * calls/s over the reference's, so 0.40x means the service does 40% of the reference's calls per second.
 */
export function formatTable(rows: readonly BenchRow[]): string {
  const header = [
    "row",
    "in flight",
    "calls/s",
    "p50 ms",
    "p99 ms",
    "vs db",
    "vs floor",
    "S*",
    "vs S*",
    "server CPU µs/call",
    "db CPU µs/call",
    "stmts/upsert",
    "peak RSS MiB",
    "load",
    "errors",
  ];
  const lines = rows.map((row) => [
    rowLabel(row),
    String(row.concurrency),
    fixed(row.callsPerSecond, 0),
    ms(row.load.latencyMs.p50),
    ms(row.load.latencyMs.p99),
    times(row.ratios.throughputVsDb),
    times(row.ratios.throughputVsFloor),
    fixed(row.ratios.seriesLimit, 0),
    times(row.ratios.throughputVsSeries),
    row.serverCpuUsPerCall === null
      ? `(${fixed(row.clientCpuUsPerCall, 0)})`
      : fixed(row.serverCpuUsPerCall, 0),
    fixed(row.dbCpuUsPerCall, 0),
    fixed(row.statementsPerCall, 2),
    fixed(row.peakRssMiB, 0),
    fixed(row.loadAverage, 1),
    String(Object.values(row.load.errors).reduce((a, b) => a + b, 0)),
  ]);
  return markdownTable(header, lines);
}

/** A Markdown table, the first column left-aligned and the others right-aligned. */
function markdownTable(header: readonly string[], lines: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)));
  const format = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `:${"-".repeat(w + 1)}` : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  return [format(header), rule, ...lines.map(format)].join("\n");
}

/** The database's own counters per upsert, printed for the rows that reach it: the db limit and the service. */
const COUNTER_COLUMNS = [
  ["Com_select", "select"],
  ["Com_insert", "insert"],
  ["Com_update", "update"],
  ["Com_set_option", "set"],
  ["Handler_read_key", "H read_key"],
  ["Handler_read_next", "H read_next"],
  ["Handler_read_rnd_next", "H rnd_next"],
  ["Handler_write", "H write"],
  ["Handler_update", "H update"],
  ["Handler_tmp_write", "H tmp_write"],
  ["Rows_read", "rows read"],
  ["Rows_sent", "rows sent"],
  ["Sort_rows", "sort rows"],
  ["Innodb_row_lock_waits", "lock waits"],
  ["Innodb_row_lock_time", "lock ms"],
  ["Innodb_buffer_pool_write_requests", "bp writes"],
  ["Innodb_os_log_written", "log bytes"],
] as const satisfies readonly (readonly [StatusCounter, string])[];

/**
 * Per upsert, for the db limit and the service rows: mariadbd's CPU as the main table has it and over the
 * window alone, and the SHOW GLOBAL STATUS counters (server-wide, so other users of the database inflate them:
 * "others' db ms" is the CPU the database spent on other users' connections in the window, 0 when none ran).
 */
export function formatCounterTable(rows: readonly BenchRow[]): string {
  const header = [
    "row",
    "in flight",
    "db CPU µs",
    "in window µs",
    "others' db ms",
    ...COUNTER_COLUMNS.map(([, label]) => label),
  ];
  const lines = rows
    .filter((row) => row.kind !== "floor" && row.path !== "grpc-batch")
    .map((row) => [
      rowLabel(row),
      String(row.concurrency),
      fixed(row.dbCpuUsPerCall, 0),
      fixed(row.dbCpuWindowUsPerCall, 0),
      fixed(row.dbCpuMs?.othersMs ?? null, 0),
      ...COUNTER_COLUMNS.map(([name]) =>
        fixed(
          row.statusPerCall[name],
          name === "Innodb_os_log_written" ? 0 : name === "Innodb_row_lock_time" ? 3 : 2,
        ),
      ),
    ]);
  return markdownTable(header, lines);
}

/** Table rows in reading order: per concurrency, the db limit, then per path the service and its floor. */
export function tableOrder(rows: readonly BenchRow[]): BenchRow[] {
  const kindOrder = { db: 0, service: 1, floor: 2 } as const;
  const pathOrder = (path: Target) => (path === "grpc" ? 0 : path === "grpc-batch" ? 2 : 1);
  const batch = (row: BenchRow) => (row.path === "grpc-batch" ? 1 : 0);
  return [...rows].sort(
    (a, b) =>
      batch(a) - batch(b) ||
      a.concurrency - b.concurrency ||
      (a.kind === "db" ? 0 : 1) - (b.kind === "db" ? 0 : 1) ||
      pathOrder(a.path) - pathOrder(b.path) ||
      kindOrder[a.kind] - kindOrder[b.kind],
  );
}

import { parseDatabaseUrl } from "../src/db/database.js";
import type { Target } from "./messages.js";

/** Every knob of `npm run bench`, read from the environment once by bench/run.ts. */
export interface BenchConfig {
  /** Measured seconds per row. */
  readonly seconds: number;
  /** Seconds of load before each row's window opens (JIT, pools and connections warm up). */
  readonly warmupSeconds: number;
  /** Times the whole interleaved sequence of rows runs; each row reported is the median round by calls/s. */
  readonly rounds: number;
  readonly concurrency: readonly number[];
  readonly paths: readonly Exclude<Target, "mysql2">[];
  readonly firms: number;
  readonly seedPerFirm: number;
  /** Dropped and recreated at start: its name must end in _bench. */
  readonly databaseUrl: string;
  /** The service's DB_POOL_SIZE, and the raw reference's pool size. */
  readonly poolSize: number;
  /** The service's LOG_LEVEL: info is what production runs (one JSON line per call). */
  readonly logLevel: string;
  /** Extra node flags for both servers, e.g. "--cpu-prof --cpu-prof-dir=bench/results/profiles". */
  readonly serverNodeArgs: readonly string[];
  /** Batches of batchSize items kept in flight by the BatchUpsertContacts rows (gRPC), one row per value. */
  readonly batchConcurrency: readonly number[];
  readonly batchSize: number;
  /**
   * "all" runs every row; "batch" only the batch comparison: single gRPC upserts, batches and their floor;
   * "single" every row but the batch ones.
   */
  readonly only: "all" | "batch" | "single";
  /** Let the database's background threads go quiet before and after each row (db CPU per call, see bench/README.md). */
  readonly settle: boolean;
  /** Path of the results without extension; .json and .svg are written. */
  readonly resultsBase: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Parses the BENCH_* variables; throws one error naming every bad one. */
export function loadBenchConfig(env: Env): BenchConfig {
  const problems: string[] = [];
  const read = <T>(key: string, fallback: T, parse: (raw: string) => T): T => {
    const raw = env[key]?.trim();
    if (raw === undefined || raw === "") return fallback;
    try {
      return parse(raw);
    } catch (error) {
      problems.push(`${key}=${JSON.stringify(raw)} ${(error as Error).message}`);
      return fallback;
    }
  };
  const config: BenchConfig = {
    seconds: read("BENCH_SECONDS", 5, number(0.5, 600)),
    warmupSeconds: read("BENCH_WARMUP_SECONDS", 1, number(0, 60)),
    rounds: read("BENCH_ROUNDS", 1, number(1, 20, true)),
    concurrency: read("BENCH_CONCURRENCY", [1, 8, 32, 128], (raw) =>
      raw.split(",").map(number(1, 1024, true)),
    ),
    paths: read("BENCH_PATHS", ["grpc", "connect-json"] as const, (raw) =>
      raw.split(",").map((path) => {
        if (path !== "grpc" && path !== "connect-json") throw new Error("must list grpc and/or connect-json");
        return path;
      }),
    ),
    firms: read("BENCH_FIRMS", 5, number(1, 1000)),
    seedPerFirm: read("BENCH_SEED_PER_FIRM", 2000, number(10, 1_000_000)),
    databaseUrl: read("BENCH_DATABASE_URL", "mysql://root@127.0.0.1:3306/contacts_bench", (raw) => {
      if (!parseDatabaseUrl(raw).database.endsWith("_bench"))
        throw new Error("must name a database ending in _bench (it is dropped at start)");
      return raw;
    }),
    poolSize: read("BENCH_POOL_SIZE", 10, number(1, 1000)),
    logLevel: read("BENCH_LOG_LEVEL", "info", (raw) => raw),
    serverNodeArgs: read("BENCH_SERVER_NODE_ARGS", [] as string[], (raw) => raw.split(/\s+/)),
    batchConcurrency: read("BENCH_BATCH_CONCURRENCY", [1, 2], (raw) =>
      raw.split(",").map(number(1, 64, true)),
    ),
    batchSize: read("BENCH_BATCH_SIZE", 1000, number(1, 1000, true)),
    only: read("BENCH_ONLY", "all" as const, (raw) => {
      if (raw !== "all" && raw !== "batch" && raw !== "single")
        throw new Error("must be all, batch or single");
      return raw;
    }),
    settle: read("BENCH_SETTLE", true, (raw) => {
      if (raw !== "0" && raw !== "1") throw new Error("must be 0 or 1");
      return raw === "1";
    }),
    resultsBase: read("BENCH_RESULTS", "bench/results/latest", (raw) => raw.replace(/\.(json|svg)$/, "")),
  };
  if (problems.length > 0) throw new Error(`invalid bench configuration: ${problems.join("; ")}`);
  return Object.freeze(config);
}

function number(min: number, max: number, integer = false) {
  return (raw: string): number => {
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value)))
      throw new Error(`must be ${integer ? "whole numbers" : "a number"} from ${min} to ${max}`);
    return value;
  };
}

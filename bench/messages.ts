import type { StatementCounts } from "./statement-counter.js";
import type { OpKind, WorkloadShape } from "./workload.js";

/** How a load generator reaches what it measures. */
export type Target = "grpc" | "connect-json" | "mysql2" | "grpc-batch";

/** What the orchestrator asks one load-generator process to do (passed as JSON in argv[2]). */
export interface LoadSpec {
  readonly target: Target;
  /** The server's base URL (grpc, connect-json). */
  readonly url?: string;
  /** The database (mysql2). */
  readonly databaseUrl?: string;
  /** mysql2 pool size for the raw reference: the same as the service's pool. */
  readonly poolSize: number;
  readonly concurrency: number;
  readonly warmupSeconds: number;
  /** Hard limit on the process's life, in case the orchestrator never says stop. */
  readonly maxSeconds: number;
  readonly callTimeoutMs: number;
  /** Items per BatchUpsertContacts call (grpc-batch). */
  readonly batchSize?: number;
  readonly shape: WorkloadShape;
  /** Makes this process's new tracking ids and emails unique on the database. */
  readonly token: string;
  readonly seed: number;
  /**
   * Whether each answer must say what the operation did (created for a new tracking id, updated otherwise):
   * true for the service and the database reference, false for the echo floor, which always says updated.
   */
  readonly checkAnswers: boolean;
}

/** Messages between the orchestrator and a load generator, over the fork IPC channel. */
export type ToLoad = { readonly type: "measure" } | { readonly type: "stop" };
export type FromLoad = { readonly type: "warm" } | { readonly type: "result"; readonly result: LoadResult };

/** What a load generator saw between "measure" and "stop". */
export interface LoadResult {
  /** Successful calls that completed inside the window; for grpc-batch, the contacts of the batches that did. */
  readonly calls: number;
  /** Successful calls (contacts, for grpc-batch) of the process's whole life: warm-up, window and drain. */
  readonly allCalls: number;
  /** Failed calls inside the window, by error code or name. */
  readonly errors: Readonly<Record<string, number>>;
  /**
   * Every failed call and every wrong answer of the whole run, warm-up included, by code or by what was wrong.
   * The bench fails when any row has one.
   */
  readonly failures: Readonly<Record<string, number>>;
  readonly windowMs: number;
  readonly latencyMs: {
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly max: number;
  };
  /** What the calls were meant to do, and what the answers said they did. */
  readonly kinds: Readonly<Record<OpKind, number>>;
  readonly answers: { readonly created: number; readonly updated: number };
  /** The load generator's own CPU time in the window (for mysql2: the driver's side of the reference). */
  readonly cpuMs: number;
  /** Statements this process sent to the database in the window (only the raw reference sends any). */
  readonly statements: StatementCounts;
}

/** Messages between the orchestrator and a bench server. */
export type ToServer = { readonly type: "statements" };
export type FromServer =
  | { readonly type: "listening"; readonly url: string }
  | { readonly type: "statements"; readonly counts: StatementCounts };

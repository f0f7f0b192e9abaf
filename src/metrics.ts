import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** Database pool occupancy, read when metrics are scraped. */
export interface PoolStats {
  readonly inUse: number;
  readonly waiting: number;
  readonly size: number;
}

/** The service's Prometheus metrics, in a registry of their own (no global state). */
export interface Metrics {
  readonly registry: Registry;
  /** Records one finished call. */
  observeCall(method: string, code: string, seconds: number): void;
  /** Records one whole-transaction retry and why. */
  observeRetry(failure: string): void;
  /** Records one group of waiting single upserts that ran in one transaction. */
  observeCoalesced(calls: number): void;
}

/** Creates the metrics; `poolStats` is called at each scrape. */
export function createMetrics(poolStats: () => PoolStats): Metrics {
  const registry = new Registry();
  const calls = new Counter({
    name: "contacts_rpc_calls_total",
    help: "RPC calls by method and status code.",
    labelNames: ["method", "code"] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: "contacts_rpc_duration_seconds",
    help: "RPC latency by method, from the request's arrival (reading and decoding included) to its answer.",
    labelNames: ["method"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const retries = new Counter({
    name: "contacts_db_transaction_retries_total",
    help: "Whole-transaction retries by cause (duplicate, deadlock, lock_timeout, unavailable).",
    labelNames: ["cause"] as const,
    registers: [registry],
  });
  const coalescedGroups = new Counter({
    name: "contacts_coalesced_groups_total",
    help: "Transactions that carried several waiting UpsertContact calls at once (see COALESCE_MAX_UPSERTS).",
    registers: [registry],
  });
  const coalescedCalls = new Counter({
    name: "contacts_coalesced_calls_total",
    help: "UpsertContact calls answered from a transaction shared with other waiting calls.",
    registers: [registry],
  });
  const pool = (name: string, help: string, pick: (stats: PoolStats) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(pick(poolStats()));
      },
    });
  pool("contacts_db_pool_connections_in_use", "Database connections lent out.", (s) => s.inUse);
  pool("contacts_db_pool_waiting", "Calls waiting for a database connection.", (s) => s.waiting);
  pool("contacts_db_pool_connections", "Database connections open.", (s) => s.size);
  return {
    registry,
    observeCall(method, code, seconds) {
      calls.inc({ method, code });
      latency.observe({ method }, seconds);
    },
    observeRetry(cause) {
      retries.inc({ cause });
    },
    observeCoalesced(calls) {
      coalescedGroups.inc();
      coalescedCalls.inc(calls);
    },
  };
}

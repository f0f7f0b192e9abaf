import { createConnection, type Pool, type RowDataPacket } from "mysql2/promise";
import { ANONYMOUS } from "../src/contacts/actor.js";
import { newContactId } from "../src/contacts/contact-id.js";
import type { HistoryEntry } from "../src/contacts/history-entry.js";
import { emailKeyColumnValue } from "../src/db/columns.js";
import { openDatabase, parseDatabaseUrl } from "../src/db/database.js";
import { TICK, takeTick } from "../src/db/firm-clock.js";
import { recordStatements } from "../src/db/history-statements.js";
import { readDbCpu, settleDb, shareDbCpu, threadClassifier } from "./db-threads.js";
import { databasePid } from "./probes.js";
import { createRawPool, DATA_COLUMNS, seedContacts } from "./raw-mysql.js";
import { type UpsertRequest, workload } from "./workload.js";

/**
 * `npm run bench:db-steps`: where the service's database CPU per upsert goes beyond the raw driver's. The raw
 * transaction of bench/raw-mysql.ts is run again and again, each variant adding one thing the service does, so
 * that the difference between two neighbours is that thing's cost in mariadbd's CPU:
 *
 *   raw                 the db limit's transaction: one statement per round trip
 *   pipelined           the same statements in the service's round trips (BEGIN with the first read, writes
 *                       with COMMIT)
 *   clock               + the firm clock's tick, the rows written with it under the clock
 *   service             + one contact_changes row per change: the statements the service sends for one upsert
 *   with subquery read  service, its reads building the assignments with a subquery, as before migration 0006
 *   with stamp after    service, a new row inserted with a provisional time before the tick and stamped after it,
 *                       as before keys were claimed under the clock
 *
 * Variants run interleaved, BENCH_ROUNDS times (median reported), each at BENCH_CONCURRENCY calls in flight for
 * BENCH_SECONDS over the bench workload. A variant's CPU is its connections' threads plus all of mariadbd's
 * background threads, from a settled start to a settled end (see bench/README.md), over every call it made.
 */

const VARIANTS = ["raw", "pipelined", "clock", "service", "with subquery read", "with stamp after"] as const;
type Variant = (typeof VARIANTS)[number];
type Step = "pipelined" | "clock" | "history" | "subquery" | "stamp";
// Each variant up to `service` adds one step to the one before it; the last two are `service` with one of its
// former costs put back, for comparison.
const STEPS: Readonly<Record<Variant, readonly Step[]>> = {
  raw: [],
  pipelined: ["pipelined"],
  clock: ["pipelined", "clock"],
  service: ["pipelined", "clock", "history"],
  "with subquery read": ["pipelined", "clock", "history", "subquery"],
  "with stamp after": ["pipelined", "clock", "history", "stamp"],
};
const at = (variant: Variant, step: Step) => STEPS[variant].includes(step);

type Query = (sql: string, values?: readonly unknown[]) => Promise<unknown>;

const ASSIGNED =
  "(SELECT GROUP_CONCAT(a.kind, '\\t', a.ref_id ORDER BY a.kind, a.ref_id SEPARATOR '\\n') " +
  "FROM contact_assignments a WHERE a.contact_id = c.id) AS assignments";
const INSERT_COLUMNS = `id, firm_id, tracking_id, email, ${DATA_COLUMNS.map(([, c]) => c).join(", ")}, create_time, update_time, email_key`;
const READ_TICK = `SELECT CAST(${TICK} AS DATETIME(3)) AS tick`;

/** One upsert in `variant`'s statements; returns how many statements it sent. */
async function upsert(query: Query, variant: Variant, request: UpsertRequest): Promise<number> {
  const { firmId, trackingId, email } = request;
  const columns = at(variant, "subquery") ? `c.*, ${ASSIGNED}` : "c.*";
  const select = (by: string, lock: boolean): Statement => [
    `SELECT ${columns} FROM contacts c WHERE c.firm_id = ? AND c.${by} = ?${lock ? " FOR UPDATE" : ""}`,
    [firmId, by === "email_key" ? emailKeyColumnValue(email) : trackingId],
  ];
  let statements = 0;
  // Sends statements in one round trip (the raw variant: one each) and returns each one's result.
  const trip = async (sqls: Statement[]): Promise<unknown[]> => {
    statements += sqls.length;
    if (!at(variant, "pipelined")) {
      const results: unknown[] = [];
      for (const [sql, params] of sqls) results.push(await query(sql, params));
      return results;
    }
    const result = await query(
      sqls.map(([sql]) => sql).join("; "),
      sqls.flatMap(([, params]) => params),
    );
    return sqls.length === 1 ? [result] : (result as unknown[]);
  };
  const [, byKey] = (await trip([
    ["START TRANSACTION", []],
    select(trackingId === undefined ? "email_key" : "tracking_id", true),
  ])) as [unknown, RowDataPacket[]];
  const stored = byKey[0];
  const id = stored === undefined ? newContactId() : String(stored.id);
  let entry: HistoryEntry;
  const writes: Statement[] = [];
  if (stored === undefined) {
    const [taken] = (await trip([select("email_key", false)])) as [RowDataPacket[]];
    if (taken[0] !== undefined) throw new Error("email taken: the workload should never produce this");
    const values = [id, firmId, trackingId ?? null, email, ...DATA_COLUMNS.map(([field]) => request[field])];
    const time = at(variant, "stamp") || !at(variant, "clock") ? "UTC_TIMESTAMP(3)" : TICK;
    writes.push([
      `INSERT INTO contacts (${INSERT_COLUMNS}) VALUES (${values.map(() => "?").join(", ")}, ${time}, ${time}, ?)`,
      [...values, emailKeyColumnValue(email)],
    ]);
    if (at(variant, "stamp")) {
      writes.push([
        `UPDATE contacts SET create_time = ${TICK}, update_time = ${TICK} WHERE firm_id = ? AND id = ?`,
        [firmId, id],
      ]);
    }
    const given: [string, string | null][] = [
      ["trackingId", trackingId ?? null],
      ["email", email],
      ...DATA_COLUMNS.map(([field]): [string, string] => [field, request[field]]),
    ];
    const fields = given
      .filter(([, value]) => value !== null)
      .map(([field, value]) => ({ field, oldValue: null, newValue: value }));
    entry = { contactId: id, kind: "created", fields };
  } else {
    const changed = DATA_COLUMNS.filter(([field, column]) => stored[column] !== request[field]);
    if (changed.length === 0) {
      // A rare repeat of the stored values (the workload's counters restart with each run): a no-op, as in the service.
      await trip([["COMMIT", []]]);
      return statements;
    }
    const time = at(variant, "clock") ? TICK : "UTC_TIMESTAMP(3)";
    writes.push([
      `UPDATE contacts SET ${changed.map(([, column]) => `${column} = ?`).join(", ")}, update_time = ${time} WHERE firm_id = ? AND id = ?`,
      [...changed.map(([field]) => request[field]), firmId, id],
    ]);
    const fields = changed.map(([field, column]) => ({
      field,
      oldValue: stored[column] as string,
      newValue: request[field],
    }));
    entry = { contactId: id, kind: "updated", fields };
  }
  if (!at(variant, "clock")) {
    await trip([...writes, ["COMMIT", []]]);
    return statements;
  }
  // The service's order: claims (the insert), then the tick, then what is stamped with it.
  const [claims, stamped] =
    at(variant, "stamp") && stored === undefined ? [writes.slice(0, 1), writes.slice(1)] : [[], writes];
  const history: Statement[] = at(variant, "history")
    ? recordStatements(firmId, ANONYMOUS, [entry]).map(({ sql, params }): Statement => [sql, params])
    : [];
  await trip([...claims, ...takeTick(firmId), ...stamped, ...history, [READ_TICK, []], ["COMMIT", []]]);
  return statements;
}

type Statement = readonly [string, readonly unknown[]];

interface Measured {
  readonly variant: Variant;
  readonly calls: number;
  readonly callsPerSecond: number;
  readonly statementsPerCall: number;
  readonly dbUsPerCall: number;
  readonly othersMs: number;
}

/** Runs `variant` at `concurrency` calls in flight for `seconds`, from a settled database to a settled one. */
async function measure(
  pool: Pool,
  variant: Variant,
  context: {
    dbPid: number;
    threads: ReturnType<typeof threadClassifier>;
    concurrency: number;
    seconds: number;
  },
  token: string,
  seed: number,
): Promise<Measured> {
  const { dbPid, threads, concurrency, seconds } = context;
  await settleDb(dbPid, threads);
  await threads.observe();
  const before = await readDbCpu(dbPid);
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let calls = 0;
  let statements = 0;
  const observer = setInterval(() => void threads.observe().catch(() => undefined), 250);
  const worker = async (w: number) => {
    const next = workload({ firms: FIRMS, seedPerFirm: SEED_PER_FIRM }, seed * 1000 + w, `${token}-${w}`);
    while (performance.now() < deadline) {
      const { request } = next();
      const sent = await withRetries(pool, (query) => upsert(query, variant, request));
      statements += sent;
      calls++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const elapsed = (performance.now() - started) / 1000;
  clearInterval(observer);
  await settleDb(dbPid, threads);
  const share = shareDbCpu(before, await readDbCpu(dbPid), (tid) => threads.classify(tid));
  return {
    variant,
    calls,
    callsPerSecond: calls / elapsed,
    statementsPerCall: statements / calls,
    dbUsPerCall: ((share.oursMs + share.backgroundMs) * 1000) / calls,
    othersMs: share.othersMs,
  };
}

/** One transaction on a pooled connection, retried like the service on deadlock and lock timeout. */
async function withRetries(pool: Pool, work: (query: Query) => Promise<number>): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const connection = await pool.getConnection();
    try {
      return await work(async (sql, values = []) => (await connection.query(sql, [...values] as never[]))[0]);
    } catch (error) {
      await connection.query("ROLLBACK").catch(() => connection.destroy());
      const errno = (error as { errno?: unknown }).errno;
      if (attempt >= 10 || !(errno === 1213 || errno === 1205)) throw error;
    } finally {
      connection.release();
    }
  }
}

const FIRMS = 5;
const SEED_PER_FIRM = 2000;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function main(): Promise<void> {
  const env = process.env;
  const url = env.BENCH_DATABASE_URL ?? "mysql://root@127.0.0.1:3306/contacts_steps_bench";
  const concurrency = Number(env.BENCH_CONCURRENCY ?? 32);
  const seconds = Number(env.BENCH_SECONDS ?? 5);
  const rounds = Number(env.BENCH_ROUNDS ?? 3);
  const poolSize = Number(env.BENCH_POOL_SIZE ?? 10);
  const { credentials, database } = parseDatabaseUrl(url);
  if (!database.endsWith("_bench"))
    throw new Error("BENCH_DATABASE_URL must name a database ending in _bench");
  for (const [name, value] of [
    ["BENCH_CONCURRENCY", concurrency],
    ["BENCH_SECONDS", seconds],
    ["BENCH_ROUNDS", rounds],
    ["BENCH_POOL_SIZE", poolSize],
  ] as const) {
    if (!(Number.isInteger(value) && value > 0)) throw new Error(`${name} must be a whole number above 0`);
  }
  const dbPid = await databasePid();
  if (dbPid === undefined)
    throw new Error("mariadbd's process was not found: db-steps reads its CPU in /proc");

  // A fresh database, migrated by the service's own code, and the bench's seed contacts.
  const admin = await createConnection({ ...credentials, connectTimeout: 5_000 });
  await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await admin.end();
  const migrated = await openDatabase({ url, poolSize: 1, connectTimeoutMs: 5_000 });
  await migrated.close();
  const pool = createRawPool(url, poolSize, true);
  await seedContacts(pool, { firms: FIRMS, seedPerFirm: SEED_PER_FIRM });

  const monitor = await createConnection({ ...credentials, database, connectTimeout: 5_000 });
  const threads = threadClassifier(monitor, database);
  const runs: Measured[] = [];
  const token = Date.now().toString(36);
  console.error(
    `db-steps: ${rounds} rounds of ${VARIANTS.length} variants, ${seconds} s each at ${concurrency} in flight`,
  );
  for (let round = 0; round < rounds; round++) {
    for (const variant of VARIANTS) {
      const run = await measure(
        pool,
        variant,
        { dbPid, threads, concurrency, seconds },
        `${token}-${round}-${variant}`,
        round * VARIANTS.length + VARIANTS.indexOf(variant) + 1,
      );
      console.error(
        `  round ${round + 1} ${variant}: ${Math.round(run.dbUsPerCall)} µs/call, ${Math.round(run.callsPerSecond)} calls/s`,
      );
      runs.push(run);
    }
  }
  await monitor.end();
  await pool.end();

  const rows = VARIANTS.map((variant) => {
    const mine = runs.filter((run) => run.variant === variant);
    return {
      variant,
      callsPerSecond: Math.round(median(mine.map((run) => run.callsPerSecond))),
      statementsPerCall: Number(median(mine.map((run) => run.statementsPerCall)).toFixed(2)),
      dbUsPerCall: Math.round(median(mine.map((run) => run.dbUsPerCall))),
      othersMs: Math.round(Math.max(...mine.map((run) => run.othersMs))),
    };
  });
  const raw = rows[0]?.dbUsPerCall ?? Number.NaN;
  console.log(
    "| variant | calls/s | stmts/upsert | db CPU µs/upsert | vs raw | step | others' db ms (max) |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  const service = VARIANTS.indexOf("service");
  for (const [i, row] of rows.entries()) {
    // Up to `service`, each row's step over the row before it; the comparison rows', over `service`.
    const base = i === 0 ? undefined : rows[i > service ? service : i - 1]?.dbUsPerCall;
    const delta = base === undefined ? undefined : row.dbUsPerCall - base;
    const step =
      delta === undefined ? "" : `${delta >= 0 ? "+" : ""}${delta}${i > service ? " vs service" : ""}`;
    console.log(
      `| ${row.variant} | ${row.callsPerSecond} | ${row.statementsPerCall} | ${row.dbUsPerCall} | ${(row.dbUsPerCall / raw).toFixed(2)}x | ${step} | ${row.othersMs} |`,
    );
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1); // the pools would keep the process alive
});

import { setMaxListeners } from "node:events";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createConnection } from "mysql2/promise";
import { ContactService } from "../gen/contacts/v1/contact_service_pb.js";
import { startApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { parseDatabaseUrl } from "../src/db/database.js";
import { createLogger } from "../src/logger.js";
import { readDbCpu, settleDb, shareDbCpu, threadClassifier } from "./db-threads.js";
import { databasePid, globalStatus, questionsBetween } from "./probes.js";
import { countStatements, STATEMENT_KINDS, type StatementCounts } from "./statement-counter.js";

/**
 * `npm run bench:feed`: what the change feed costs the database, with 0, 50 (one per firm) and 500 watchers
 * (ten per firm) over 50 firms on one instance:
 *
 *   idle     statements per second the instance sends while nothing is written, counted in mysql2
 *            (diagnostics_channel), with SHOW GLOBAL STATUS Questions as a server-wide cross-check, and
 *            mariadbd's CPU per second (the bench's connection threads plus background threads, /proc)
 *   writes   BENCH_WRITES UpsertContact calls round robin over the 50 firms, BENCH_CONCURRENCY in flight:
 *            statements and mariadbd CPU per write, from a settled database to a settled database; every
 *            watcher must have received its firm's changes before the row ends
 *
 * Rows run interleaved BENCH_ROUNDS times; the table shows medians. The service runs in this process (startApp,
 * as `npm start`), on the database BENCH_DATABASE_URL (default contacts_feed_bench, dropped and recreated).
 */

const FIRMS = 50;
const WATCHER_COUNTS = [0, 50, 500] as const;
/** Streams per HTTP/2 connection: under the server's MAX_CONCURRENT_STREAMS (100). */
const STREAMS_PER_CONNECTION = 90;

interface Row {
  readonly watchers: number;
  readonly idleStatementsPerSecond: number;
  readonly idleQuestionsPerSecond: number;
  readonly idleDbMsPerSecond: number;
  readonly statementsPerWrite: number;
  readonly dbUsPerWrite: number;
  readonly writesPerSecond: number;
}

const total = (counts: StatementCounts) => STATEMENT_KINDS.reduce((sum, kind) => sum + counts[kind], 0);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function positive(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!(Number.isInteger(value) && value > 0)) throw new Error(`${name} must be a whole number above 0`);
  return value;
}

async function main(): Promise<void> {
  const url = process.env.BENCH_DATABASE_URL ?? "mysql://root@127.0.0.1:3306/contacts_feed_bench";
  const writes = positive("BENCH_WRITES", 1_000);
  const concurrency = positive("BENCH_CONCURRENCY", 4);
  const idleSeconds = positive("BENCH_IDLE_SECONDS", 10);
  const rounds = positive("BENCH_ROUNDS", 3);
  const { credentials, database } = parseDatabaseUrl(url);
  if (!database.endsWith("_bench"))
    throw new Error("BENCH_DATABASE_URL must name a database ending in _bench");
  const dbPid = await databasePid();
  if (dbPid === undefined)
    throw new Error("mariadbd's process was not found: bench:feed reads its CPU in /proc");

  const admin = await createConnection({ ...credentials, connectTimeout: 5_000 });
  await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await admin.end();
  const statements = countStatements();
  const config = loadConfig({ PORT: "0", DATABASE_URL: url, LOG_LEVEL: "silent" });
  const app = await startApp(config, createLogger("silent"));
  const monitor = await createConnection({ ...credentials, database, connectTimeout: 5_000 });
  const threads = threadClassifier(monitor, database);
  const writer = createClient(ContactService, createGrpcTransport({ baseUrl: app.server.url }));
  const token = Date.now().toString(36);
  const firms = Array.from({ length: FIRMS }, (_, f) => `feed-bench-${token}-${f}`);
  console.error(
    `bench:feed: ${rounds} rounds of ${WATCHER_COUNTS.join("/")} watchers over ${FIRMS} firms; ${idleSeconds} s idle, ${writes} writes at ${concurrency} in flight each`,
  );

  const rows: Row[] = [];
  let written = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      for (const watchers of WATCHER_COUNTS) {
        const row = await measure(watchers);
        console.error(
          `  round ${round + 1}, ${watchers} watchers: idle ${row.idleStatementsPerSecond.toFixed(1)} stmts/s, ${row.dbUsPerWrite.toFixed(0)} µs db CPU/write`,
        );
        rows.push(row);
      }
    }
  } finally {
    await monitor.end();
    await app.close();
  }

  async function measure(watchers: number): Promise<Row> {
    const stop = new AbortController();
    setMaxListeners(0, stop.signal); // one listener per stream
    const received = new Map<string, number[]>();
    const connections = Array.from({ length: Math.ceil(watchers / STREAMS_PER_CONNECTION) }, () =>
      createClient(ContactService, createGrpcTransport({ baseUrl: app.server.url })),
    );
    const streams = Array.from({ length: watchers }, (_, i) => {
      const firmId = firms[i % FIRMS] as string;
      const counts = received.get(firmId) ?? [];
      received.set(firmId, counts);
      const slot = counts.push(0) - 1;
      return watch(connections[Math.floor(i / STREAMS_PER_CONNECTION)] as Client<typeof ContactService>, {
        firmId,
        onChanges: (n) => {
          counts[slot] = (counts[slot] ?? 0) + n;
        },
        signal: stop.signal,
      });
    });
    try {
      await sleep(2_000); // every stream opened and attached to its firm's group
      await settleDb(dbPid as number, threads);
      // Idle: nothing written.
      const idle = await window(idleSeconds * 1_000, () => sleep(idleSeconds * 1_000));
      // Writes.
      const base = written;
      const write = await window(undefined, async () => {
        let next = 0;
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (next < writes) {
              const n = base + next++;
              await writer.upsertContact({
                firmId: firms[n % FIRMS] as string,
                email: `w${n}@example.com`,
                firstName: "Feed",
                lastName: "Bench",
              });
            }
          }),
        );
        written += writes;
      });
      // Every watcher saw every change of its firm made in this row.
      for (const [f, firmId] of firms.entries()) {
        const expected = Math.floor((written - 1 - f) / FIRMS) + 1 - (Math.floor((base - 1 - f) / FIRMS) + 1);
        for (const until = Date.now() + 30_000; (received.get(firmId) ?? []).some((n) => n < expected); ) {
          if (Date.now() > until) throw new Error(`a watcher of ${firmId} missed changes`);
          await sleep(50);
        }
      }
      return {
        watchers,
        idleStatementsPerSecond: idle.statements / idleSeconds,
        idleQuestionsPerSecond: idle.questions / idleSeconds,
        idleDbMsPerSecond: idle.dbMs / idleSeconds,
        statementsPerWrite: write.statements / writes,
        dbUsPerWrite: (write.dbMs * 1_000) / writes,
        writesPerSecond: writes / (write.ms / 1_000),
      };
    } finally {
      stop.abort();
      await Promise.all(streams);
      for (const counts of received.values()) counts.length = 0;
    }
  }

  /** Statements, Questions and mariadbd CPU (the bench's threads and background) over `work`, settled after. */
  async function window(fixedMs: number | undefined, work: () => Promise<void>) {
    await threads.observe();
    const statusBefore = await globalStatus(monitor);
    const cpuBefore = await readDbCpu(dbPid as number);
    const before = statements();
    const began = performance.now();
    await work();
    const ms = performance.now() - began;
    const after = statements();
    // The writes' background work (purge, page cleaning) belongs to them: wait for it, then read the CPU.
    if (fixedMs === undefined) await settleDb(dbPid as number, threads);
    await threads.observe();
    const cpuAfter = await readDbCpu(dbPid as number);
    const statusAfter = await globalStatus(monitor);
    const share = shareDbCpu(cpuBefore, cpuAfter, threads.classify);
    return {
      ms,
      statements: total(after) - total(before),
      // Less the monitor's own reads of PROCESSLIST between the two status reads.
      questions: questionsBetween(statusBefore, statusAfter) - 1,
      dbMs: share.oursMs + share.backgroundMs,
    };
  }

  const byWatchers = WATCHER_COUNTS.map((watchers) => {
    const mine = rows.filter((row) => row.watchers === watchers);
    const pick = (key: keyof Row) => median(mine.map((row) => row[key]));
    return {
      watchers,
      idleStatementsPerSecond: pick("idleStatementsPerSecond"),
      idleQuestionsPerSecond: pick("idleQuestionsPerSecond"),
      idleDbMsPerSecond: pick("idleDbMsPerSecond"),
      statementsPerWrite: pick("statementsPerWrite"),
      dbUsPerWrite: pick("dbUsPerWrite"),
      writesPerSecond: pick("writesPerSecond"),
    };
  });
  const none = byWatchers[0]?.dbUsPerWrite ?? Number.NaN;
  console.log(
    `| watchers (over ${FIRMS} firms) | idle stmts/s | idle Questions/s (server-wide) | idle db CPU ms/s | stmts/write | db CPU µs/write | added by the feed, µs/write | writes/s |`,
  );
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const row of byWatchers) {
    console.log(
      `| ${row.watchers} | ${row.idleStatementsPerSecond.toFixed(1)} | ${row.idleQuestionsPerSecond.toFixed(1)} | ${row.idleDbMsPerSecond.toFixed(1)} | ${row.statementsPerWrite.toFixed(2)} | ${row.dbUsPerWrite.toFixed(0)} | ${row.watchers === 0 ? "-" : (row.dbUsPerWrite - none).toFixed(0)} | ${row.writesPerSecond.toFixed(0)} |`,
    );
  }
  console.log(`\n${JSON.stringify({ rounds, writes, concurrency, idleSeconds, rows })}`);
}

/** One watch stream from now, counting the changes it receives, until `signal` aborts. */
async function watch(
  client: Client<typeof ContactService>,
  { firmId, onChanges, signal }: { firmId: string; onChanges: (n: number) => void; signal: AbortSignal },
): Promise<void> {
  try {
    for await (const message of client.watchContactChanges({ firmId }, { signal }))
      if (message.changes.length > 0) onChanges(message.changes.length);
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

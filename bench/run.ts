import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { openSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { createConnection } from "mysql2/promise";
import { parseDatabaseUrl } from "../src/db/database.js";
import { type BenchConfig, loadBenchConfig } from "./bench-config.js";
import { renderChart } from "./chart.js";
import {
  type LoadedServer,
  type Measurement,
  measureRow,
  type RowContext,
  type RowKind,
} from "./measure-row.js";
import type { FromServer, LoadSpec, Target, ToServer } from "./messages.js";
import { databasePid } from "./probes.js";
import { createRawPool, seedContacts } from "./raw-mysql.js";
import {
  type BenchReport,
  formatCounterTable,
  formatTable,
  medianRounds,
  tableOrder,
  withRatios,
} from "./report.js";
import type { StatementCounts } from "./statement-counter.js";

// `npm run bench`: recreates the bench database, starts the service and the echo server as child processes,
// seeds the known contacts, then per concurrency runs the db reference and, per path, the service and its
// floor, each with its own load-generator process. Prints one table; writes JSON and SVG.

const here = path.dirname(fileURLToPath(import.meta.url));
const children = new Set<ChildProcess>();

interface BenchServer extends LoadedServer {
  readonly url: string;
  readonly child: ChildProcess;
  readonly logFile: string;
}

/** Forks bench-server.js in a mode and waits (at most 60 s) for its URL. Its logs go to a temp file. */
async function startBenchServer(mode: "service" | "echo", config: BenchConfig): Promise<BenchServer> {
  const logFile = path.join(os.tmpdir(), `contacts-bench-${mode}-${process.pid}.log`);
  const child = fork(path.join(here, "bench-server.js"), [mode], {
    env: {
      ...process.env,
      HOST: "127.0.0.1",
      DATABASE_URL: config.databaseUrl,
      DB_POOL_SIZE: String(config.poolSize),
      LOG_LEVEL: config.logLevel,
      SHUTDOWN_GRACE_MS: "2000",
    },
    stdio: ["ignore", openSync(logFile, "w"), "inherit", "ipc"],
    execArgv: [...config.serverNodeArgs],
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${mode} server did not start in 60 s; see ${logFile}`)),
      60_000,
    );
    child.on("message", (message: FromServer) => {
      if (message.type !== "listening") return;
      clearTimeout(timer);
      resolve(message.url);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${mode} server exited (${code}) before listening; see ${logFile}`));
    });
  });
  if (child.pid === undefined) throw new Error(`${mode} server has no pid`);
  const statements = () =>
    new Promise<StatementCounts>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${mode} server did not report statements`)), 5_000);
      const onMessage = (message: FromServer) => {
        if (message.type !== "statements") return;
        clearTimeout(timer);
        child.off("message", onMessage);
        resolve(message.counts);
      };
      child.on("message", onMessage);
      child.send({ type: "statements" } satisfies ToServer);
    });
  return { url, pid: child.pid, child, logFile, statements };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  if ((await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)])) === false) {
    child.kill("SIGKILL");
  }
}

async function recreateDatabase(databaseUrl: string): Promise<string> {
  const { credentials, database } = parseDatabaseUrl(databaseUrl);
  const connection = await createConnection({ ...credentials, connectTimeout: 5_000 });
  try {
    await connection.query(`DROP DATABASE IF EXISTS \`${database}\``);
    const [[row]] = (await connection.query("SELECT VERSION() AS version")) as unknown as [
      [{ version: string }],
    ];
    return row.version;
  } finally {
    await connection.end();
  }
}

async function main(): Promise<void> {
  const config = loadBenchConfig(process.env);
  const startedAt = new Date().toISOString();
  const batchRows = config.only === "single" ? 0 : 2 * config.batchConcurrency.length;
  const rowsTotal =
    config.rounds *
    (config.only === "batch"
      ? config.concurrency.length + batchRows
      : config.concurrency.length * (1 + 2 * config.paths.length) + batchRows);
  const perRow = config.seconds + config.warmupSeconds + 1;
  console.error(
    `bench: ${rowsTotal} rows of ${config.seconds} s (about ${Math.ceil((rowsTotal * perRow) / 60)} min)`,
  );

  const databaseVersion = await recreateDatabase(config.databaseUrl);
  // The service creates and migrates the database itself, as `npm start` does; the echo server needs none.
  const service = await startBenchServer("service", config);
  const echo = await startBenchServer("echo", config);
  const seedPool = createRawPool(config.databaseUrl, 4);
  const shape = { firms: config.firms, seedPerFirm: config.seedPerFirm };
  const seeded = await seedContacts(seedPool, shape).finally(() => seedPool.end());
  console.error(`bench: seeded ${seeded} known contacts over ${config.firms} firms`);

  const { credentials, database } = parseDatabaseUrl(config.databaseUrl);
  const monitor = await createConnection({ ...credentials, database, connectTimeout: 5_000 });
  const dbPid = await databasePid();
  const context: RowContext = {
    monitor,
    database,
    dbPid,
    loadScript: path.join(here, "load.js"),
    seconds: config.seconds,
    settle: config.settle,
  };
  const measurements: Measurement[] = [];
  let rowIndex = 0;
  const run = async (kind: RowKind, target: Target, concurrency: number, server?: BenchServer) => {
    rowIndex++;
    const spec: LoadSpec = {
      target,
      ...(server && { url: server.url }),
      databaseUrl: config.databaseUrl,
      poolSize: config.poolSize,
      concurrency,
      warmupSeconds: config.warmupSeconds,
      maxSeconds: config.warmupSeconds + config.seconds + 120,
      callTimeoutMs: target === "grpc-batch" ? 60_000 : 10_000,
      shape,
      token: `r${Date.now().toString(36)}x${rowIndex}`,
      batchSize: config.batchSize,
      seed: rowIndex * 7919,
      checkAnswers: kind !== "floor",
    };
    const row = await measureRow(context, kind, spec, server);
    measurements.push(row);
    const errors = Object.values(row.load.errors).reduce((a, b) => a + b, 0);
    console.error(
      `bench: [${rowIndex}/${rowsTotal}] ${kind} ${target} x${concurrency}: ${row.callsPerSecond.toFixed(0)} calls/s, p99 ${row.load.latencyMs.p99.toFixed(2)} ms${errors ? `, ${errors} errors ${JSON.stringify(row.load.errors)}` : ""}`,
    );
  };
  try {
    // Interleaved by concurrency, so that noise from other users of the machine hits all three kinds alike.
    for (let round = 0; round < config.rounds; round++) {
      for (const concurrency of config.concurrency) {
        if (config.only === "batch") {
          // The single-call baseline the batch is compared with, in the same run.
          await run("service", "grpc", concurrency, service);
          continue;
        }
        await run("db", "mysql2", concurrency);
        for (const target of config.paths) {
          await run("service", target, concurrency, service);
          await run("floor", target, concurrency, echo);
        }
      }
      // BatchUpsertContacts: batches of batchSize with the same mix; calls/s and per-call columns per contact.
      for (const concurrency of config.only === "single" ? [] : config.batchConcurrency) {
        await run("service", "grpc-batch", concurrency, service);
        await run("floor", "grpc-batch", concurrency, echo);
      }
    }
  } finally {
    await monitor.end().catch(() => undefined);
    await Promise.all([stopChild(service.child), stopChild(echo.child)]);
  }
  // The servers' logs (one line per call) are kept only when something failed.
  await Promise.all([rm(service.logFile, { force: true }), rm(echo.logFile, { force: true })]);

  const rows = tableOrder(withRatios(medianRounds(measurements)));
  const report: BenchReport = {
    schema: "contacts-bench/1",
    startedAt,
    finishedAt: new Date().toISOString(),
    environment: {
      node: process.version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      loadAverageAtEnd: os.loadavg(),
      database: databaseVersion,
      databaseCpuMeasured: dbPid !== undefined,
      seededContacts: seeded,
    },
    config: { ...config, databaseUrl: config.databaseUrl.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@") },
    rows,
    ...(config.rounds > 1 && { rounds: measurements }),
  };
  console.log(formatTable(rows));
  console.log(
    "\nvs db / vs floor: calls/s over the reference's at the same concurrency. S* = 1/(1/floor + 1/db): the series limit (bench/README.md). (n): the db reference's CPU is its mysql2 client's.",
  );
  console.log(
    `\nDatabase counters per upsert (SHOW GLOBAL STATUS, server-wide; load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(", ")}):\n`,
  );
  console.log(formatCounterTable(rows));
  await mkdir(path.dirname(config.resultsBase), { recursive: true });
  await writeFile(`${config.resultsBase}.json`, `${JSON.stringify(report, null, 2)}\n`);
  // The chart draws the single-call paths; the batch rows are in the table and the JSON.
  await writeFile(
    `${config.resultsBase}.svg`,
    renderChart({ ...report, rows: report.rows.filter((row) => row.path !== "grpc-batch") }),
  );
  console.error(`bench: wrote ${config.resultsBase}.json and ${config.resultsBase}.svg`);
  // A number measured while calls failed or answered wrongly says nothing: the run fails.
  const failed = measurements.filter((row) => Object.keys(row.load.failures).length > 0);
  if (failed.length > 0) {
    throw new Error(
      `${failed.length} rows had failed calls or wrong answers: ${failed
        .map((row) => `${row.kind} ${row.path} x${row.concurrency} ${JSON.stringify(row.load.failures)}`)
        .join("; ")}`,
    );
  }
}

const abort = (signal: NodeJS.Signals) => {
  for (const child of children) child.kill("SIGKILL");
  process.exit(signal === "SIGINT" ? 130 : 143);
};
process.once("SIGINT", abort);
process.once("SIGTERM", abort);

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    for (const child of children) child.kill("SIGKILL");
    process.exit(1);
  },
);

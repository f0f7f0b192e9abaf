import mysql2 from "mysql2";
import { createConnection } from "mysql2/promise";
import { DataSource, type Logger as TypeOrmLogger } from "typeorm";
import type { PoolStats } from "../metrics.js";
import { type ClusterInfo, detectCluster, onePacketFor, type PipelineSetting } from "./galera.js";
import { takeMigrationLock } from "./migration-lock.js";
import { MIGRATIONS } from "./migrations/index.js";

/** Where the database is and how to pool connections to it. */
export interface DatabaseOptions {
  /** mysql://user:password@host:port/database (mariadb:// is accepted too). */
  readonly url: string;
  readonly poolSize: number;
  readonly connectTimeoutMs: number;
  /** Most calls that may wait for a pooled connection; one more fails at once (0: no bound, for tools). */
  readonly queueLimit?: number;
  /**
   * Where TypeORM's migration messages go ("Migration … failed, error: …"); TypeORM prints them on stdout
   * otherwise. A test that expects a migration to fail passes its own, so the expected failure is not printed.
   */
  readonly logMigration?: (message: string) => void;
  /** Whether a transaction's statements share packets: DB_PIPELINE (auto: yes unless Galera is detected). */
  readonly pipeline?: PipelineSetting;
}

/** An open, migrated database. */
export interface Database {
  readonly dataSource: DataSource;
  /** Server product and version, as reported by SELECT VERSION(). */
  readonly serverVersion: string;
  readonly flavor: "mariadb" | "mysql";
  /** The collation of contacts.email, chosen by the migration for this server. */
  readonly emailCollation: string;
  /** Whether the server is a Galera node, and its cluster's size at startup. */
  readonly cluster: ClusterInfo;
  /** Whether transactions send their statements in shared packets (see runPipelined). */
  readonly onePacket: boolean;
  /** Resolves when a pooled connection reaches a live server. */
  ping(): Promise<void>;
  /** Occupancy of the connection pool, for metrics. */
  poolStats(): PoolStats;
  close(): Promise<void>;
}

/**
 * Run on every pooled connection before its first query, once, instead of per transaction (a round trip saved
 * on every call). READ COMMITTED: locking reads of a missing key take no gap lock, so racing creators meet on
 * the unique index (a retried duplicate) instead of deadlocking. A short lock wait bounds how long a call can be
 * stuck behind another; the wait ends in a retried error, not a hang.
 */
const SESSION_SETUP = [
  // mysql2 escapes values client-side with backslashes; under NO_BACKSLASH_ESCAPES a value could end its string
  // literal early, so that mode is switched off for our sessions whatever the server's default.
  "SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '')",
  "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
  "SET SESSION innodb_lock_wait_timeout = 5",
  // A contact's assignments are gathered with GROUP_CONCAT into contacts.assignments (migration 0006); the default
  // 1024 bytes would cut them short. 1000 ids per kind, of at most 64 characters (4 bytes each), with their kinds
  // and separators fit in 1 MiB.
  "SET SESSION group_concat_max_len = 1048576",
];

/**
 * On a Galera node, every read first waits until the node has applied what the cluster committed before it
 * (wsrep_sync_wait=1), so a caller reading on one node sees its own write made through another: without it, 3%
 * of reads right after a write on another node missed it (issue 24). Costs the reads one cluster round trip.
 */
const CLUSTER_SESSION_SETUP = ["SET SESSION wsrep_sync_wait = 1"];

/** mysql2, with `setup` queued on each new pool connection before anything else can use it. */
function sessionConfiguredMysql2(setup: readonly string[]) {
  return {
    ...mysql2,
    createPool(options: mysql2.PoolOptions) {
      const pool = mysql2.createPool(options);
      pool.on("connection", (connection) => {
        for (const statement of setup) connection.query(statement);
      });
      return pool;
    },
  };
}

/**
 * Connects, creates the database if it is missing (when the user may), detects a Galera cluster, runs pending
 * migrations under a lock that holds cluster-wide (migration-lock.ts) so that several instances starting together
 * migrate once, and opens the pool. Throws a message that
 * names the server (never the password) when it cannot.
 */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const url = parseDatabaseUrl(options.url);
  const where = `${url.host}:${url.port}/${url.database}`;
  let bootstrap: Awaited<ReturnType<typeof createConnection>>;
  try {
    bootstrap = await createConnection({
      ...url.credentials,
      database: undefined,
      connectTimeout: options.connectTimeoutMs,
    });
  } catch (error) {
    throw new Error(`cannot connect to the database at ${where}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    const [[row]] = (await bootstrap.query("SELECT VERSION() AS version")) as unknown as [
      [{ version: string }],
    ];
    const serverVersion = row.version;
    const flavor = /mariadb/i.test(serverVersion) ? "mariadb" : "mysql";
    await bootstrap
      .query(
        `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(url.database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
      )
      .catch(() => undefined); // without the privilege, the database must already exist: the next step says so
    const cluster = await detectCluster(bootstrap);
    // The lock's own reads must see the other nodes' claims, and the migrations' reads their DDL.
    if (cluster.galera) await bootstrap.query(CLUSTER_SESSION_SETUP[0] as string);
    const release = await takeMigrationLock(bootstrap, cluster.galera, url.database);
    const dataSource = new DataSource({
      // TypeORM's "mysql" driver emits FOR SHARE/NOWAIT syntax for versions MariaDB rejects.
      type: flavor,
      driver: sessionConfiguredMysql2(
        cluster.galera ? [...SESSION_SETUP, ...CLUSTER_SESSION_SETUP] : SESSION_SETUP,
      ),
      // Lets a transaction send BEGIN with its first read and its writes with COMMIT (pipelined-transaction.ts).
      multipleStatements: true,
      host: url.host,
      port: url.port,
      username: url.credentials.user,
      password: url.credentials.password,
      database: url.database,
      // No entities: the migrations own the schema and the repository writes its SQL (see contact-repository.ts).
      entities: [],
      migrations: MIGRATIONS,
      migrationsTransactionMode: "each",
      ...(options.logMigration && { logger: migrationLogger(options.logMigration) }),
      synchronize: false,
      timezone: "Z",
      poolSize: options.poolSize,
      connectTimeout: options.connectTimeoutMs,
      extra: {
        enableKeepAlive: true,
        idleTimeout: 60_000,
        maxIdle: options.poolSize,
        queueLimit: options.queueLimit ?? 0,
        // mysql2 captures a stack trace on every query to attach to its errors; on the hot path that costs more
        // than the errors are worth (they name the statement and the server's message without it).
        trace: false,
      },
    });
    try {
      await dataSource.initialize();
      await dataSource.runMigrations();
    } catch (error) {
      if (dataSource.isInitialized) await dataSource.destroy();
      throw new Error(`cannot prepare the database at ${where}: ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      await release();
    }
    const [collation] = await dataSource.query(
      "SELECT COLLATION_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'contacts' AND COLUMN_NAME = 'email'",
    );
    return {
      dataSource,
      serverVersion,
      flavor,
      emailCollation: String(collation?.name),
      cluster,
      onePacket: onePacketFor(options.pipeline ?? "auto", cluster),
      // The cheapest statement that proves a pooled connection reaches a live server.
      ping: async () => {
        await dataSource.query("SELECT 1");
      },
      poolStats: () => poolStats(dataSource),
      close: () => dataSource.destroy(),
    };
  } finally {
    await bootstrap.end().catch(() => undefined);
  }
}

interface DatabaseUrl {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly credentials: { host: string; port: number; user: string; password: string };
}

/** Parses mysql://user:password@host:port/database; throws a message naming what is wrong. */
export function parseDatabaseUrl(text: string): DatabaseUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error("is not a URL like mysql://user:password@host:3306/database");
  }
  if (url.protocol !== "mysql:" && url.protocol !== "mariadb:")
    throw new Error("must start with mysql:// or mariadb://");
  const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (!/^[A-Za-z0-9_$]{1,64}$/.test(database))
    throw new Error("must name a database (letters, digits, _ or $)");
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = url.port === "" ? 3306 : Number(url.port);
  const user = decodeURIComponent(url.username) || "root";
  return {
    host,
    port,
    database,
    credentials: { host, port, user, password: decodeURIComponent(url.password) },
  };
}

/** A TypeORM logger that hands migration messages to `log` and, like TypeORM's default without `logging`, drops the rest. */
function migrationLogger(log: (message: string) => void): TypeOrmLogger {
  const ignore = () => undefined;
  return {
    logQuery: ignore,
    logQueryError: ignore,
    logQuerySlow: ignore,
    logSchemaBuild: ignore,
    logMigration: (message) => log(message),
    log: ignore,
  };
}

function quoteIdentifier(name: string): string {
  return `\`${name.replaceAll("`", "``")}\``;
}

/** Occupancy of TypeORM's mysql2 pool. mysql2 keeps it in fields it does not document; absent ones read as 0. */
function poolStats(dataSource: DataSource): PoolStats {
  type Queue = { length: number } | undefined;
  const pool = (dataSource.driver as unknown as { pool?: Record<string, Queue> }).pool;
  const all = pool?._allConnections?.length ?? 0;
  return {
    size: all,
    inUse: all - (pool?._freeConnections?.length ?? 0),
    waiting: pool?._connectionQueue?.length ?? 0,
  };
}

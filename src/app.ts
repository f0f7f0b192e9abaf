import type { DataSource } from "typeorm";
import { createAuthenticator, loadApiKeys } from "./auth/api-keys.js";
import type { Config } from "./config.js";
import { upsertContact } from "./contacts/upsert-contact.js";
import { openDatabase } from "./db/database.js";
import { createTransact, type RetryListener } from "./db/transaction.js";
import type { Logger } from "./logger.js";
import { createMetrics, type PoolStats } from "./metrics.js";
import { type RunningServer, startServer } from "./server.js";

/** A running service: its server and database, closed together. */
export interface App {
  readonly server: RunningServer;
  readonly databaseVersion: string;
  readonly emailCollation: string;
  /** How callers are authenticated: the number of API keys loaded, or off. */
  readonly authentication: string;
  /** Stops the server (draining calls in flight), then closes the database pool. */
  close(): Promise<void>;
}

/**
 * Wires the service from a config: database (migrated), use cases, server. Shared by the entry point and the
 * tests, so tests run exactly what production runs.
 */
export async function startApp(config: Config, logger: Logger, onRetry?: RetryListener): Promise<App> {
  // Before the database: a bad keys file should stop the process without touching anything.
  const keys = config.apiKeysFile === undefined ? undefined : await loadApiKeys(config.apiKeysFile);
  const authenticate = keys && createAuthenticator(keys);
  const database = await openDatabase({
    url: config.databaseUrl,
    poolSize: config.dbPoolSize,
    connectTimeoutMs: config.dbConnectTimeoutMs,
  });
  try {
    const metrics = createMetrics(() => poolStats(database.dataSource));
    const transact = createTransact(database.dataSource, undefined, (failure, attempt) => {
      logger.debug({ failure, attempt }, "transaction retry");
      metrics.observeRetry(failure);
      onRetry?.(failure, attempt);
    });
    const server = await startServer({
      ...config,
      useCases: { upsertContact: upsertContact({ transact }) },
      // The cheapest statement that proves a pooled connection reaches a live server.
      readinessProbe: () => database.dataSource.query("SELECT 1"),
      authenticate,
      metrics,
      logger,
    });
    return {
      server,
      databaseVersion: database.serverVersion,
      emailCollation: database.emailCollation,
      authentication: keys ? `API keys (${keys.length})` : "off",
      async close() {
        await server.close();
        await database.close();
      },
    };
  } catch (error) {
    await database.close();
    throw error;
  }
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

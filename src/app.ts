import type { Config } from "./config.js";
import { upsertContact } from "./contacts/upsert-contact.js";
import { openDatabase } from "./db/database.js";
import { createTransact, type RetryListener } from "./db/transaction.js";
import type { Logger } from "./logger.js";
import { type RunningServer, startServer } from "./server.js";

/** A running service: its server and database, closed together. */
export interface App {
  readonly server: RunningServer;
  readonly databaseVersion: string;
  readonly emailCollation: string;
  /** Stops the server (draining calls in flight), then closes the database pool. */
  close(): Promise<void>;
}

/**
 * Wires the service from a config: database (migrated), use cases, server. Shared by the entry point and the
 * tests, so tests run exactly what production runs.
 */
export async function startApp(config: Config, logger: Logger, onRetry?: RetryListener): Promise<App> {
  const database = await openDatabase({
    url: config.databaseUrl,
    poolSize: config.dbPoolSize,
    connectTimeoutMs: config.dbConnectTimeoutMs,
  });
  try {
    const transact = createTransact(database.dataSource, undefined, (failure, attempt) => {
      logger.debug({ failure, attempt }, "transaction retry");
      onRetry?.(failure, attempt);
    });
    const server = await startServer({
      ...config,
      useCases: { upsertContact: upsertContact({ transact }) },
      // The cheapest statement that proves a pooled connection reaches a live server.
      readinessProbe: () => database.dataSource.query("SELECT 1"),
      logger,
    });
    return {
      server,
      databaseVersion: database.serverVersion,
      emailCollation: database.emailCollation,
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

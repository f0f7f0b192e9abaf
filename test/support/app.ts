import { type App, type AppHooks, startApp } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import type { DbFailure } from "../../src/db/db-errors.js";
import { createLogger } from "../../src/logger.js";
import { TEST_DATABASE_URL } from "./database.js";

/** The real service on a random port against the test database, with a tally of transaction retries. */
export interface TestApp extends App {
  readonly url: string;
  readonly port: number;
  readonly retries: Record<DbFailure, number>;
}

/** Starts the same app `npm start` runs, configured through the same environment parser. */
export async function startTestApp(
  env: Record<string, string> = {},
  hooks: Omit<AppHooks, "onRetry"> = {},
): Promise<TestApp> {
  const config = loadConfig({
    PORT: "0",
    DATABASE_URL: TEST_DATABASE_URL,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    SHUTDOWN_GRACE_MS: "2000",
    // DB_PIPELINE=off runs any test with each statement in its own round trip, as on a Galera cluster.
    ...(process.env.DB_PIPELINE ? { DB_PIPELINE: process.env.DB_PIPELINE } : {}),
    ...env,
  });
  const retries: Record<DbFailure, number> = {
    duplicate: 0,
    deadlock: 0,
    lock_timeout: 0,
    unavailable: 0,
    overloaded: 0,
    other: 0,
  };
  const app = await startApp(config, createLogger(config.logLevel), {
    ...hooks,
    onRetry: (failure) => {
      retries[failure]++;
    },
  });
  const defects = recordDefects();
  const closeApp = app.close.bind(app); // Object.assign below replaces app.close with this wrapper
  const close = async () => {
    try {
      await closeApp();
    } finally {
      defects.stop();
    }
    // Vitest reports these too and fails the run, but after a passing test; this fails the test that ran the app.
    if (defects.errors.length > 0) {
      const messages = defects.errors.map((e) => (e instanceof Error ? (e.stack ?? e.message) : String(e)));
      throw new Error(`uncaught exception(s) while the app ran:\n${messages.join("\n")}`);
    }
  };
  return Object.assign(app, { url: app.server.url, port: app.server.port, retries, close });
}

/** Collects uncaught exceptions and unhandled rejections in this process, next to vitest's own listeners. */
function recordDefects(): { errors: unknown[]; stop(): void } {
  const errors: unknown[] = [];
  const record = (error: unknown) => {
    errors.push(error);
  };
  process.on("uncaughtException", record);
  process.on("unhandledRejection", record);
  return {
    errors,
    stop() {
      process.off("uncaughtException", record);
      process.off("unhandledRejection", record);
    },
  };
}

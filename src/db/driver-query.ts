import { QueryFailedError, type QueryRunner } from "typeorm";

/** Runs one SQL text (one or more statements) with its `?` values on the runner's connection; returns mysql2's result. */
export type DriverQuery = (sql: string, values: readonly unknown[]) => Promise<unknown>;

interface CallbackConnection {
  query(sql: string, values: unknown[], callback: (error: Error | null, result?: unknown) => void): void;
}

/**
 * How runPipelined sends a round trip on a connected runner. TypeORM's `runner.query` costs, on every trip, four
 * awaits, a broadcaster, a QueryResult copying the rows, and mysql2's `.promise()` wrapper built anew (a require,
 * an EventEmitter and its listeners). This service registers no subscribers and no query logging, so all of that
 * does nothing here: the same statement goes straight to mysql2's callback API on the same connection, and a
 * failure comes back as the QueryFailedError TypeORM would throw, so classifyDbError reads it alike. A runner
 * whose `query` is not TypeORM's own (the traced one, db-spans.ts) keeps it, so every trip stays a span.
 */
export function driverQuery(runner: QueryRunner): DriverQuery {
  const connection = (runner as unknown as { databaseConnection?: CallbackConnection }).databaseConnection;
  const own = runner.query === (Object.getPrototypeOf(runner) as QueryRunner).query;
  if (!own || typeof connection?.query !== "function") {
    return (sql, values) => runner.query(sql, [...values]);
  }
  return (sql, values) =>
    new Promise((resolve, reject) => {
      const params = values as unknown[];
      connection.query(sql, params, (error, result) => {
        if (error) reject(new QueryFailedError(sql, params, error));
        else resolve(result);
      });
    });
}

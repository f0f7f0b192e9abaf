import type { Attributes } from "@opentelemetry/api";
import type { DataSource, QueryRunner } from "typeorm";
import { inSpan, SpanKind, type Tracing } from "./tracing.js";

/** The longest statement text a round trip's span holds; a longer one is cut, ending with "…". */
export const MAX_STATEMENT_CHARS = 2048;

const DB_SYSTEM: Attributes = { "db.system": "mysql", "db.system.name": "mysql" };

/**
 * A transaction attempt's span (`attempt` counts from 1): its database round trips and its wait for a pooled
 * connection are its children, and a failed attempt (a deadlock, a duplicate key: retried as a new attempt)
 * records its error's code.
 */
export function inAttemptSpan<T>(tracing: Tracing, attempt: number, fn: () => Promise<T>): Promise<T> {
  return inSpan(
    tracing,
    "transaction",
    { attributes: { ...DB_SYSTEM, "contacts.transaction.attempt": attempt } },
    fn,
  );
}

/**
 * The data source, with each query runner it creates traced: waiting for a pooled connection is a span, and so
 * is each round trip, holding the statements' text (with their `?` placeholders, never the values) and their
 * count. Nothing else of the data source changes.
 */
export function tracedDataSource(dataSource: DataSource, tracing: Tracing): DataSource {
  const database = String(dataSource.options.database ?? "");
  const common: Attributes = { ...DB_SYSTEM, ...(database && { "db.namespace": database }) };
  const traceRunner = (runner: QueryRunner): QueryRunner =>
    new Proxy(runner, {
      get(target, property) {
        if (property === "connect") {
          return () =>
            inSpan(tracing, "database connection wait", { attributes: common }, () => target.connect());
        }
        if (property === "query") {
          return (sql: string, params?: unknown[]) => {
            const statements = sql.split("; ");
            return inSpan(
              tracing,
              operations(statements),
              {
                kind: SpanKind.CLIENT,
                attributes: {
                  ...common,
                  "db.query.text": statementShape(sql),
                  ...(statements.length > 1 && { "db.operation.batch.size": statements.length }),
                },
              },
              () => target.query(sql, params),
            );
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  return new Proxy(dataSource, {
    get(target, property) {
      if (property === "createQueryRunner") {
        return (...args: Parameters<DataSource["createQueryRunner"]>) =>
          traceRunner(target.createQueryRunner(...args));
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * A statement's text as a span may hold it: repeated row groups (`(?, ?), (?, ?), …`) folded into one, and cut at
 * MAX_STATEMENT_CHARS. Every statement of this service is a constant with `?` placeholders, so the text holds
 * no value.
 */
export function statementShape(sql: string): string {
  const folded = sql.replace(/(\([^()]*\))(?:, \1)+/g, "$1, …").replace(/\?(?:, \?){3,}/g, "?, ?, …");
  return folded.length <= MAX_STATEMENT_CHARS ? folded : `${folded.slice(0, MAX_STATEMENT_CHARS - 1)}…`;
}

/** A round trip's span name: its statements' leading keywords, like "START TRANSACTION; SELECT". */
export function operations(statements: readonly string[]): string {
  const names = statements.map(
    (s) => /^\s*\(?\s*(START TRANSACTION|[A-Za-z]+)/.exec(s)?.[1]?.toUpperCase() ?? "?",
  );
  const name = names.filter((n, i) => i === 0 || n !== names[i - 1]).join("; ");
  return name.length <= 100 ? name : `${name.slice(0, 99)}…`;
}

import { subscribe } from "node:diagnostics_channel";

/** Statements by their leading keyword. */
export const STATEMENT_KINDS = [
  "select",
  "insert",
  "update",
  "begin",
  "commit",
  "rollback",
  "set",
  "other",
] as const;
export type StatementKind = (typeof STATEMENT_KINDS)[number];
export type StatementCounts = Record<StatementKind, number>;

const KEYWORDS: Readonly<Record<string, StatementKind>> = {
  SELECT: "select",
  INSERT: "insert",
  UPDATE: "update",
  START: "begin",
  BEGIN: "begin",
  COMMIT: "commit",
  ROLLBACK: "rollback",
  SET: "set",
};

/** An all-zero tally. */
export const noStatements = (): StatementCounts =>
  Object.fromEntries(STATEMENT_KINDS.map((kind) => [kind, 0])) as StatementCounts;

/**
 * Counts every statement this process sends through mysql2, by kind, from mysql2's diagnostics_channel tracing
 * (`mysql2:query`, `mysql2:execute`): exact and per process, unlike the server-wide counters of SHOW GLOBAL
 * STATUS, which other users of the database move too. Returns a function reading the running totals.
 */
export function countStatements(): () => StatementCounts {
  const counts = noStatements();
  const onStart = (message: unknown) => {
    const sql = (message as { query?: unknown }).query;
    const keyword = typeof sql === "string" ? /^\s*([A-Za-z]+)/.exec(sql)?.[1]?.toUpperCase() : undefined;
    counts[(keyword && KEYWORDS[keyword]) || "other"]++;
  };
  subscribe("tracing:mysql2:query:start", onStart);
  subscribe("tracing:mysql2:execute:start", onStart);
  return () => ({ ...counts });
}

/** The statements between two readings. */
export function statementsBetween(before: StatementCounts, after: StatementCounts): StatementCounts {
  const out = noStatements();
  for (const kind of STATEMENT_KINDS) out[kind] = after[kind] - before[kind];
  return out;
}

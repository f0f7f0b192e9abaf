import { readFileSync } from "node:fs";
import { join } from "node:path";
import sqlParser from "node-sql-parser";

/**
 * A simulation of Vitess's routing for the SQL this service sends: each statement is parsed (node-sql-parser,
 * MySQL grammar) and checked against the VSchema in deploy/vitess/ as vtgate would plan it, for what matters to
 * a keyspace sharded by firm_id: a statement on sharded tables must name one firm (`firm_id = value`, or `IN` of
 * one value) for each of them, so it routes to one shard; a statement never mixes keyspaces. See docs/vitess.md.
 */

/** The two keyspaces' tables: sharded ones with their vindex column, unsharded ones. */
export interface VSchema {
  readonly sharded: ReadonlyMap<string, string>;
  readonly unsharded: ReadonlySet<string>;
}

interface KeyspaceFile {
  sharded: boolean;
  tables: Record<string, { column_vindexes?: { column: string; name: string }[] }>;
}

/** Reads deploy/vitess/contacts.vschema.json (sharded) and contacts_global.vschema.json (unsharded). */
export function loadVSchema(dir = join(import.meta.dirname, "..", "..", "deploy", "vitess")): VSchema {
  const read = (file: string) => JSON.parse(readFileSync(join(dir, file), "utf8")) as KeyspaceFile;
  const sharded = read("contacts.vschema.json");
  const global = read("contacts_global.vschema.json");
  if (!sharded.sharded || global.sharded) throw new Error("contacts must be sharded, contacts_global not");
  return {
    sharded: new Map(
      Object.entries(sharded.tables).map(([table, spec]) => {
        const column = spec.column_vindexes?.[0]?.column;
        if (column === undefined) throw new Error(`sharded table ${table} has no primary vindex`);
        return [table, column];
      }),
    ),
    unsharded: new Set(Object.keys(global.tables)),
  };
}

/** One statement as the check sees it. */
export interface Routed {
  /** The statement as node-sql-parser prints it, without quotes around names. */
  readonly sql: string;
  readonly kind: string;
  readonly tables: readonly string[];
  /** "none": no table, or only the database's own catalog (information_schema). */
  readonly keyspace: "sharded" | "unsharded" | "none" | "both";
  /** The distinct firm values the statement pins its sharded tables to. */
  readonly firms: readonly string[];
  /** Sharded tables read or written without a firm: vtgate would scatter the statement to every shard. */
  readonly unpinned: readonly string[];
  /** Why it cannot route to one shard; undefined when it can (or touches no sharded table). */
  readonly problem?: string;
}

/** A statement allowed to span shards, and why. */
export interface RoutingException {
  readonly name: string;
  readonly reason: string;
  readonly matches: (statement: Routed) => boolean;
}

const parser = new sqlParser.Parser();
const GRAMMAR = { database: "MySQL" };

// What node-sql-parser's MySQL grammar lacks, rewritten before parsing; neither changes where a statement routes.
// - index hints (`FORCE INDEX (feed_order)`) it rejects;
// - a user variable's assignment inside an expression (`@contacts_tick := expr`, the firm clock's tick): the
//   expression stays. (vtgate itself handles user variables: see docs/vitess.md.)
// - session statements it does not know (SET SESSION TRANSACTION ...): no table, sent as they are.
const INDEX_HINT = /\b(FORCE|USE|IGNORE)\s+INDEX\s*\([^)]*\)/gi;
const ASSIGNMENT = /@[A-Za-z_][A-Za-z0-9_]*\s*:=\s*/g;
const SESSION_ONLY =
  /^\s*SET\s+(SESSION\s+)?(TRANSACTION|sql_mode|innodb_lock_wait_timeout|group_concat_max_len)\b/i;

/** Parses one text the service sent (it may hold several statements) and routes each statement. */
export function routeText(text: string, vschema: VSchema): Routed[] {
  if (SESSION_ONLY.test(text)) {
    return [{ sql: text, kind: "set", tables: [], keyspace: "none", firms: [], unpinned: [] }];
  }
  const normalised = text.replace(INDEX_HINT, "").replace(ASSIGNMENT, "");
  const parsed = parser.astify(normalised, GRAMMAR);
  const statements = (Array.isArray(parsed) ? parsed : [parsed]) as unknown as Node[];
  return statements.map((ast) => routeStatement(ast, vschema));
}

type Node = Record<string, unknown>;

interface TableRef {
  readonly table: string;
  readonly db: string | null;
  readonly alias: string;
}

function routeStatement(ast: Node, vschema: VSchema): Routed {
  const sql = parser.sqlify(ast as never, GRAMMAR).replaceAll("`", "");
  const kind = String(ast.type);
  const tables = new Set<string>();
  const firms = new Set<string>();
  const unpinned = new Set<string>();
  const unknown = new Set<string>();
  let sharded = false;
  let unsharded = false;
  for (const scope of scopes(ast)) {
    const refs = tableRefs(scope);
    const pins = firmPins(scope, refs);
    for (const ref of refs) {
      if (ref.db?.toLowerCase() === "information_schema") continue;
      tables.add(ref.table);
      const vindexColumn = vschema.sharded.get(ref.table);
      if (vindexColumn === undefined) {
        if (vschema.unsharded.has(ref.table)) unsharded = true;
        else unknown.add(ref.table);
        continue;
      }
      sharded = true;
      const pinned = pins.get(ref.alias) ?? pins.get("");
      if (pinned === undefined || pinned.size === 0) unpinned.add(ref.table);
      else for (const firm of pinned) firms.add(firm);
    }
  }
  const keyspace = sharded && unsharded ? "both" : sharded ? "sharded" : unsharded ? "unsharded" : "none";
  const problem =
    unknown.size > 0
      ? `tables in no VSchema: ${[...unknown].join(", ")}`
      : keyspace === "both"
        ? "joins a sharded keyspace's table with an unsharded one's"
        : unpinned.size > 0
          ? `no firm_id = value on ${[...unpinned].join(", ")}: a scatter to every shard`
          : firms.size > 1
            ? `spans ${firms.size} firms (${[...firms].join(", ")}): more than one shard`
            : undefined;
  return {
    sql,
    kind,
    tables: [...tables],
    keyspace,
    firms: [...firms],
    unpinned: [...unpinned],
    ...(problem === undefined ? {} : { problem }),
  };
}

const SCOPE_TYPES = new Set(["select", "insert", "replace", "update", "delete"]);

/** Every SELECT, INSERT, UPDATE and DELETE in the statement, itself included: subqueries and UNION parts too. */
function scopes(root: unknown): Node[] {
  const found: Node[] = [];
  const visit = (node: unknown) => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
      return;
    }
    if (node === null || typeof node !== "object") return;
    const record = node as Node;
    if (typeof record.type === "string" && SCOPE_TYPES.has(record.type)) found.push(record);
    for (const value of Object.values(record)) visit(value);
  };
  visit(root);
  return found;
}

/** The tables a scope reads or writes by name (derived tables are scopes of their own). */
function tableRefs(scope: Node): TableRef[] {
  const lists = [scope.from, scope.type === "select" ? undefined : scope.table];
  const refs: TableRef[] = [];
  for (const list of lists) {
    if (!Array.isArray(list)) continue;
    for (const item of list as Node[]) {
      if (typeof item.table !== "string") continue;
      refs.push({
        table: item.table,
        db: typeof item.db === "string" ? item.db : null,
        alias: typeof item.as === "string" ? item.as : item.table,
      });
    }
  }
  // DELETE lists its table in both `table` and `from`.
  return refs.filter((ref, i) => refs.findIndex((other) => other.alias === ref.alias) === i);
}

const LITERALS = new Set([
  "single_quote_string",
  "double_quote_string",
  "string",
  "natural_string",
  "number",
  "hex_string",
  "full_hex_string",
  "bit_string",
  "param",
]);

function literal(node: unknown): string | undefined {
  if (node === null || typeof node !== "object") return undefined;
  const { type, value } = node as Node;
  return typeof type === "string" && LITERALS.has(type) ? `${JSON.stringify(value)}` : undefined;
}

function columnName(node: unknown): { table: string; column: string } | undefined {
  if (node === null || typeof node !== "object" || (node as Node).type !== "column_ref") return undefined;
  const { table, column } = node as { table: unknown; column: unknown };
  const name =
    typeof column === "string"
      ? column
      : String(((column as Node | undefined)?.expr as Node | undefined)?.value ?? "");
  return { table: typeof table === "string" ? table : "", column: name.toLowerCase() };
}

/** The conjuncts of a condition: `a AND (b AND c)` gives a, b and c. */
function conjuncts(node: unknown): Node[] {
  if (node === null || typeof node !== "object") return [];
  const record = node as Node;
  if (record.type === "binary_expr" && String(record.operator).toUpperCase() === "AND") {
    return [...conjuncts(record.left), ...conjuncts(record.right)];
  }
  return [record];
}

/**
 * The firm values each table alias of a scope is pinned to ("" for unqualified columns): by `firm_id = value` or
 * `firm_id IN (values)` among the WHERE's (or a join's ON) conjuncts, by an INSERT's firm_id values, or, for
 * INSERT ... SELECT, by its SELECT's own pin (the inserted rows are the selected ones).
 */
function firmPins(scope: Node, refs: readonly TableRef[]): Map<string, Set<string>> {
  const pins = new Map<string, Set<string>>();
  const pin = (alias: string, values: string[]) => {
    pins.set(alias, new Set([...(pins.get(alias) ?? []), ...values]));
  };
  const conditions = [scope.where, ...((scope.from as Node[] | undefined) ?? []).map((item) => item.on)];
  for (const condition of conditions) {
    for (const term of conjuncts(condition)) {
      if (term.type !== "binary_expr") continue;
      const operator = String(term.operator).toUpperCase();
      const column = columnName(term.left);
      if (column?.column !== "firm_id") continue;
      if (operator === "=") {
        const value = literal(term.right);
        if (value !== undefined) pin(column.table, [value]);
      } else if (operator === "IN") {
        const list = (term.right as Node).value;
        const values = Array.isArray(list) ? list.map(literal) : [];
        if (values.length > 0 && values.every((v) => v !== undefined)) pin(column.table, values as string[]);
      }
    }
  }
  if (scope.type === "insert" || scope.type === "replace") {
    const columns = ((scope.columns as unknown[] | null) ?? []).map((c) =>
      String(
        typeof c === "string" ? c : ((c as Node).value ?? ((c as Node).expr as Node)?.value),
      ).toLowerCase(),
    );
    const at = columns.indexOf("firm_id");
    const values = scope.values as Node | undefined;
    const target = refs[0]?.alias ?? "";
    if (values?.type === "values" && at >= 0) {
      const rows = values.values as Node[];
      const firms = rows.map((row) => literal((row.value as unknown[])[at]));
      if (firms.every((f) => f !== undefined)) pin(target, firms as string[]);
    } else if (values?.type === "select") {
      const inner = tableRefs(values);
      const innerPins = firmPins(values, inner);
      const firms = new Set(
        inner.flatMap((ref) => [...(innerPins.get(ref.alias) ?? innerPins.get("") ?? [])]),
      );
      if (firms.size > 0) pin(target, [...firms]);
    }
  }
  // Unqualified columns belong to the scope's only table.
  const unqualified = pins.get("");
  if (unqualified !== undefined && refs.length === 1) pin(refs[0]?.alias ?? "", [...unqualified]);
  return pins;
}

/** What a recorded run came to: problems left after the exceptions, and which exceptions were used. */
export interface RoutingReport {
  readonly statements: Routed[];
  readonly problems: { sql: string; problem: string }[];
  readonly used: ReadonlyMap<string, number>;
}

/** Routes every recorded text and sets each problem against the exceptions. */
export function checkRouting(
  texts: readonly string[],
  vschema: VSchema,
  exceptions: readonly RoutingException[],
): RoutingReport {
  const statements = texts.flatMap((text) => routeText(text, vschema));
  const used = new Map<string, number>();
  const problems: { sql: string; problem: string }[] = [];
  for (const statement of statements) {
    if (statement.problem === undefined) continue;
    const exception = exceptions.find((e) => e.matches(statement));
    if (exception === undefined) problems.push({ sql: statement.sql, problem: statement.problem });
    else used.set(exception.name, (used.get(exception.name) ?? 0) + 1);
  }
  return { statements, problems, used };
}

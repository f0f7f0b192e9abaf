import { describe, expect, it } from "vitest";
import { checkRouting, loadVSchema, routeText } from "../support/vitess-routing.js";

// The routing check itself (test/support/vitess-routing.ts), on statements written here: it must catch what
// Vitess would scatter, or refuse, and pass what routes to one shard.
const vschema = loadVSchema();
const route = (sql: string) => routeText(sql, vschema);

describe("the Vitess routing check", () => {
  it("routes a statement naming one firm on each sharded table to one shard", () => {
    for (const sql of [
      "SELECT c.id FROM contacts c WHERE c.firm_id = 'f' AND c.email_key = X'6162' FOR UPDATE",
      "DELETE FROM request_outcomes WHERE firm_id = 'f' AND expire_time < UTC_TIMESTAMP(3) ORDER BY expire_time LIMIT 3",
      "INSERT INTO contact_assignments (contact_id, kind, ref_id, firm_id) VALUES ('x', 'client', 'a', 'f'), ('x', 'client', 'b', 'f')",
      "INSERT INTO firm_clocks (firm_id, last_time) VALUES ('f', @contacts_tick := UTC_TIMESTAMP(3)) ON DUPLICATE KEY UPDATE last_time = (@contacts_tick := GREATEST(UTC_TIMESTAMP(3), last_time + INTERVAL 1000 MICROSECOND))",
      "INSERT INTO contact_tombstones (id, firm_id, delete_time) SELECT id, firm_id, @contacts_tick FROM contacts WHERE firm_id = 'f' AND id = 'x'",
      "SELECT contact_id FROM contact_changes FORCE INDEX (feed_order) WHERE firm_id = 'f' AND change_time > '2020-01-01' LIMIT 5",
      "(SELECT c.id FROM contacts c WHERE c.firm_id = 'f' LIMIT 3) UNION ALL (SELECT t.id FROM contact_tombstones t WHERE t.firm_id = 'f' LIMIT 3) ORDER BY id LIMIT 3",
      "SELECT (EXISTS (SELECT 1 FROM contacts WHERE firm_id = 'f' AND id = 'x') OR EXISTS (SELECT 1 FROM contact_tombstones WHERE firm_id = 'f' AND id = 'x')) AS found",
      "UPDATE contacts SET city = CASE id WHEN 'a' THEN 'b' END WHERE firm_id = 'f' AND id IN ('a')",
      "SELECT firm_id FROM firm_clocks WHERE firm_id IN ('f', 'f')",
    ]) {
      const [statement] = route(sql);
      expect({ sql, problem: statement?.problem, firms: statement?.firms }).toEqual({
        sql,
        problem: undefined,
        firms: ['"f"'],
      });
    }
  });

  it("finds the scatter DELETE ... LIMIT across firms that Vitess refuses", () => {
    const [statement] = route(
      "DELETE FROM request_outcomes WHERE expire_time < UTC_TIMESTAMP(3) ORDER BY expire_time LIMIT 500",
    );
    expect(statement?.problem).toMatch(/no firm_id = value on request_outcomes: a scatter/);
  });

  it("finds a sharded table without a firm: in a subquery, in a join condition's absence, in one part of a UNION", () => {
    for (const sql of [
      "UPDATE contacts SET assignments = (SELECT GROUP_CONCAT(a.ref_id) FROM contact_assignments a WHERE a.contact_id = 'x') WHERE firm_id = 'f' AND id = 'x'",
      "DELETE FROM contact_assignments WHERE contact_id = 'x'",
      "(SELECT c.id FROM contacts c WHERE c.firm_id = 'f') UNION ALL (SELECT t.id FROM contact_tombstones t WHERE t.id = 'x')",
      "SELECT c.id FROM contacts c JOIN contact_changes h ON h.contact_id = c.id WHERE c.firm_id = 'f'",
      "SELECT id FROM contacts WHERE firm_id = 'f' OR id = 'x'",
    ]) {
      expect(route(sql)[0]?.problem, sql).toMatch(/a scatter to every shard/);
    }
  });

  it("finds a statement naming two firms, and one mixing keyspaces or naming a table in no VSchema", () => {
    expect(route("SELECT firm_id FROM firm_clocks WHERE firm_id IN ('a', 'b')")[0]?.problem).toMatch(
      /spans 2 firms/,
    );
    expect(
      route(
        "INSERT INTO contact_assignments (contact_id, kind, ref_id, firm_id) VALUES ('x', 'c', 'a', 'f'), ('y', 'c', 'a', 'g')",
      )[0]?.problem,
    ).toMatch(/spans 2 firms/);
    expect(
      route("SELECT c.id, s.secret FROM contacts c, page_token_secrets s WHERE c.firm_id = 'f'")[0]?.problem,
    ).toMatch(/joins a sharded keyspace's table with an unsharded one's/);
    expect(route("SELECT * FROM service_registry")[0]?.problem).toMatch(
      /tables in no VSchema: service_registry/,
    );
  });

  it("lets through session statements, the catalog and unsharded tables, and splits a multi-statement text", () => {
    const statements = route(
      "START TRANSACTION; SELECT secret FROM page_token_secrets WHERE id = 1; SELECT COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_NAME = 'contacts'; COMMIT",
    );
    expect(statements.map((s) => [s.keyspace, s.problem])).toEqual([
      ["none", undefined],
      ["unsharded", undefined],
      ["none", undefined],
      ["none", undefined],
    ]);
    expect(route("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")[0]?.keyspace).toBe("none");
  });

  it("counts a problem an exception covers as that exception's, and leaves the others", () => {
    const report = checkRouting(
      [
        "SELECT firm_id FROM request_outcomes WHERE expire_time < UTC_TIMESTAMP(3) ORDER BY expire_time LIMIT 1",
        "DELETE FROM request_outcomes WHERE expire_time < UTC_TIMESTAMP(3) LIMIT 1",
      ],
      vschema,
      [{ name: "next firm", reason: "a read", matches: (s) => s.kind === "select" }],
    );
    expect(report.used).toEqual(new Map([["next firm", 1]]));
    expect(report.problems.map((p) => p.sql)).toEqual([
      "DELETE FROM request_outcomes WHERE expire_time < UTC_TIMESTAMP(3) LIMIT 1",
    ]);
  });
});

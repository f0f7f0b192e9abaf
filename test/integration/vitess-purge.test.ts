import { randomUUID } from "node:crypto";
import type { Connection } from "mysql2/promise";
import type { DataSource } from "typeorm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIGRATIONS } from "../../src/db/migrations/index.js";
import { purgeRequestOutcomeBatch } from "../../src/db/request-outcomes.js";
import { purgeTombstoneBatch, startTombstonePurge } from "../../src/db/tombstone-purge.js";
import { createLogger } from "../../src/logger.js";
import { recordSql } from "../support/sql-recorder.js";
import { databaseAtVersion, type VersionedDatabase } from "../support/versioned-database.js";
import { checkRouting, loadVSchema, type Routed } from "../support/vitess-routing.js";

// The background purges work firm by firm (issue 24): each batch deletes one firm's rows with `firm_id = ?`, so a
// database sharded by firm_id routes every DELETE to one shard; a scatter `DELETE ... LIMIT` is refused by
// Vitess. Only the read choosing the next firm spans firms. The test owns a database, so "oldest first" is exact.

let database: VersionedDatabase;
let dataSource: DataSource;
let own: Connection;

beforeAll(async () => {
  database = await databaseAtVersion("vitess_purge", MIGRATIONS);
  dataSource = database.dataSource();
  await dataSource.initialize();
  own = await database.connect();
});

afterAll(async () => {
  await own?.end();
  await dataSource?.destroy();
  await database?.drop();
});

/** `count` tombstones of the firm deleted `days` ago, each with two history rows; returns their ids. */
async function tombstones(firmId: string, count: number, days: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomUUID());
  for (const id of ids) {
    await own.query(
      "INSERT INTO contact_tombstones (id, firm_id, email, first_name, last_name, create_time, update_time, delete_time) " +
        "VALUES (?, ?, 'x@example.com', 'X', 'Y', ?, ?, ?)",
      [id, firmId, ...Array(3).fill(new Date(Date.now() - days * 86_400_000))],
    );
    for (const seq of [0, 1]) {
      await own.query(
        "INSERT INTO contact_changes (firm_id, contact_id, change_time, seq, principal, kind, fields) " +
          "VALUES (?, ?, UTC_TIMESTAMP(3), ?, 'p', 'UPDATED', '[]')",
        [firmId, id, seq],
      );
    }
  }
  return ids;
}

async function count(sql: string, params: unknown[]): Promise<number> {
  const [[row]] = (await own.query(sql, params)) as unknown as [[{ n: number }]];
  return Number(row.n);
}

/** Runs batches until one deletes nothing; returns each batch's count, the last 0 included. */
async function drain(batch: () => Promise<number>): Promise<number[]> {
  const counts: number[] = [];
  for (let deleted = -1; deleted !== 0; ) {
    deleted = await batch();
    counts.push(deleted);
  }
  return counts;
}

/** The recorded statements' routing, and the problems left once the "which firm next" read is allowed. */
function routing(texts: readonly string[], table: string) {
  const nextFirm = (s: Routed) =>
    s.kind === "select" && s.sql.startsWith(`SELECT firm_id FROM ${table} WHERE`);
  return checkRouting(texts, loadVSchema(), [{ name: "next firm", reason: "a read", matches: nextFirm }]);
}

describe("the purges, firm by firm", () => {
  it("tombstones: oldest firm first, batches of one firm each, every DELETE naming it; newer ones stay", async () => {
    const [a, b] = [`purge-a-${randomUUID()}`, `purge-b-${randomUUID()}`];
    const expiredA = await tombstones(a, 5, 40);
    const [expiredB] = await tombstones(b, 1, 50);
    const [fresh] = await tombstones(a, 1, 10);
    const recorder = recordSql(database.name);
    let counts: number[];
    try {
      counts = await drain(() => purgeTombstoneBatch(dataSource, 30, 2));
    } finally {
      recorder.stop();
    }
    // Firm b's one tombstone is the oldest: a batch of its own, short of the batch size, and the pass goes on.
    expect(counts).toEqual([1, 2, 2, 1, 0]);
    const report = routing(recorder.texts, "contact_tombstones");
    expect(report.problems).toEqual([]);
    expect(report.used.get("next firm")).toBe(5);
    const deletes = report.statements.filter((s) => s.kind === "delete");
    expect(deletes).toHaveLength(8); // history and tombstones, per batch
    expect(deletes.map((s) => s.firms.length)).toEqual(Array(8).fill(1));
    expect(deletes.map((s) => s.firms[0])).toEqual([
      ...Array(2).fill(JSON.stringify(b)),
      ...Array(6).fill(JSON.stringify(a)),
    ]);
    for (const id of [...expiredA, expiredB]) {
      expect(await count("SELECT COUNT(*) AS n FROM contact_changes WHERE contact_id = ?", [id])).toBe(0);
    }
    expect(await count("SELECT COUNT(*) AS n FROM contact_tombstones WHERE firm_id IN (?, ?)", [a, b])).toBe(
      1,
    );
    expect(await count("SELECT COUNT(*) AS n FROM contact_changes WHERE contact_id = ?", [fresh])).toBe(2);
  });

  it("request ids: expired ones go in batches of one firm each, oldest firm first; unexpired ones stay", async () => {
    const [a, c] = [`purge-a-${randomUUID()}`, `purge-c-${randomUUID()}`];
    const outcome = (firmId: string, id: string, hours: number) =>
      own.query(
        "INSERT INTO request_outcomes (firm_id, request_id, fingerprint, outcome, expire_time) " +
          "VALUES (?, ?, REPEAT('0', 64), '{}', UTC_TIMESTAMP(3) + INTERVAL ? HOUR)",
        [firmId, id, hours],
      );
    for (const id of ["c1", "c2", "c3"]) await outcome(c, id, -2);
    for (const id of ["a1", "a2"]) await outcome(a, id, -1);
    await outcome(a, "a-live", 1);
    const recorder = recordSql(database.name);
    let counts: number[];
    try {
      counts = await drain(() => purgeRequestOutcomeBatch((sql, params) => dataSource.query(sql, params), 2));
    } finally {
      recorder.stop();
    }
    expect(counts).toEqual([2, 1, 2, 0]);
    const report = routing(recorder.texts, "request_outcomes");
    expect(report.problems).toEqual([]);
    const deletes = report.statements.filter((s) => s.kind === "delete");
    expect(deletes.map((s) => s.firms)).toEqual([[c], [c], [a]].map((f) => f.map((x) => JSON.stringify(x))));
    const [left] = (await own.query("SELECT request_id FROM request_outcomes WHERE firm_id IN (?, ?)", [
      a,
      c,
    ])) as unknown as [{ request_id: Buffer }[]];
    expect(left.map((r) => r.request_id.toString())).toEqual(["a-live"]);
  });

  it("one pass of the background loop purges every firm, though each firm's last batch comes back short", async () => {
    const firms = [1, 2, 3].map((i) => `purge-loop-${i}-${randomUUID()}`);
    for (const firmId of firms) await tombstones(firmId, 3, 40);
    const purge = startTombstonePurge(
      dataSource,
      { retentionDays: 30, batchSize: 2, pauseMs: 0, intervalMs: 3_600_000 },
      createLogger("silent"),
    );
    try {
      const inFirms = () =>
        count("SELECT COUNT(*) AS n FROM contact_tombstones WHERE firm_id IN (?, ?, ?)", firms);
      const deadline = Date.now() + 20_000;
      while ((await inFirms()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await inFirms()).toBe(0);
    } finally {
      await purge.stop();
    }
  });
});

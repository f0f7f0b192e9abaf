import { randomUUID } from "node:crypto";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Connection, createConnection } from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChangeKind, ContactService } from "../../gen/contacts/v1/contact_service_pb.js";
import { parseDatabaseUrl } from "../../src/db/database.js";
import { MIGRATIONS } from "../../src/db/migrations/index.js";
import { startTestApp } from "../support/app.js";
import { grpcJsBatchClient } from "../support/batch-clients.js";
import { grpcJsClient } from "../support/clients.js";
import { recordSql } from "../support/sql-recorder.js";
import { databaseAtVersion, type VersionedDatabase } from "../support/versioned-database.js";
import {
  checkRouting,
  loadVSchema,
  type RoutingException,
  type RoutingReport,
  routeText,
} from "../support/vitess-routing.js";
import { grpcJsWatch } from "../support/watch.js";

// Ready for Vitess (issue 24), by simulation: the service runs against a database of this test's own while every
// SQL text it sends is recorded (mysql2's tracing channel, nothing of the service changed), every RPC is called,
// and each statement is checked against the VSchema in deploy/vitess/ as vtgate would route it. See docs/vitess.md.

/**
 * The statements allowed to reach more than one shard, each a read by design; every one must be seen in the run
 * (a stale entry fails the test).
 */
const EXCEPTIONS: RoutingException[] = [
  {
    name: "tombstone purge: which firm next",
    reason:
      "the purge's only cross-firm statement, a read: each shard returns its oldest expired tombstone's firm and " +
      "vtgate keeps the oldest (ORDER BY delete_time LIMIT 1); the deletes that follow name that firm",
    matches: (s) =>
      s.kind === "select" && /^SELECT firm_id FROM contact_tombstones WHERE delete_time < /.test(s.sql),
  },
  {
    name: "request-id purge: which firm next",
    reason: "as the tombstone purge's, over request_outcomes' expire_time",
    matches: (s) =>
      s.kind === "select" && /^SELECT firm_id FROM request_outcomes WHERE expire_time < /.test(s.sql),
  },
  {
    name: "change feed: the watched firms' clocks",
    reason:
      "one poll reads the clocks of every firm watched on this instance, `firm_id IN (...)`: vtgate sends it to " +
      "the shards holding those firms only (an IN on the vindex column), one statement per poll whatever the " +
      "number of watchers",
    matches: (s) =>
      s.kind === "select" && /^SELECT firm_id, last_time FROM firm_clocks WHERE firm_id IN /.test(s.sql),
  },
];

/**
 * Unique keys of sharded tables that do not lead with firm_id, and why that holds. On a shard, a unique index is
 * unique within the shard only; these keys are random ids, unique everywhere by construction.
 */
const UNIQUE_KEY_EXCEPTIONS: Record<string, string> = {
  "contacts.PRIMARY(id)":
    "contact ids are UUIDv7s made by the service (74 random bits per millisecond); GetContact and every write " +
    "also name the firm, so routing never needs the id alone. Global uniqueness enforced by Vitess would take a " +
    "lookup vindex on contacts.id (docs/vitess.md)",
  "contact_tombstones.PRIMARY(id)": "a deleted contact's id: unique as the contact's was",
  "contact_assignments.PRIMARY(contact_id,kind,ref_id)":
    "scoped by the contact, whose id is unique and whose rows are all on its firm's shard",
};

let database: VersionedDatabase;
let own: Connection;
let report: RoutingReport;
let texts: string[];
const called = new Set<string>();

beforeAll(async () => {
  database = await databaseAtVersion("vitess_routing", MIGRATIONS);
  own = await database.connect();
  const [firmA, firmB] = [`vitess-a-${randomUUID()}`, `vitess-b-${randomUUID()}`];
  // Work for the purges' first pass at startup: an expired tombstone with its history, and an expired request id,
  // in two firms. Written before recording starts, as another service would have.
  for (const firmId of [firmA, firmB]) {
    const id = randomUUID();
    await own.query(
      "INSERT INTO contact_tombstones (id, firm_id, email, first_name, last_name, create_time, update_time, delete_time) " +
        "VALUES (?, ?, 'old@example.com', 'O', 'L', UTC_TIMESTAMP(3) - INTERVAL 40 DAY, UTC_TIMESTAMP(3) - INTERVAL 40 DAY, UTC_TIMESTAMP(3) - INTERVAL 40 DAY)",
      [id, firmId],
    );
    await own.query(
      "INSERT INTO contact_changes (firm_id, contact_id, change_time, seq, principal, kind, fields) " +
        "VALUES (?, ?, UTC_TIMESTAMP(3) - INTERVAL 40 DAY, 0, 'p', 'DELETED', '[]')",
      [firmId, id],
    );
    await own.query(
      "INSERT INTO request_outcomes (firm_id, request_id, fingerprint, outcome, expire_time) " +
        "VALUES (?, 'old', REPEAT('0', 64), '{}', UTC_TIMESTAMP(3) - INTERVAL 1 HOUR)",
      [firmId],
    );
  }
  await own.end();
  const recorder = recordSql(database.name);
  const app = await startTestApp({ DATABASE_URL: database.url, FEED_POLL_MS: "20" });
  try {
    await exerciseEveryRpc(app.url, firmA, firmB);
    // The purges' first pass ran at startup; wait until it deleted the seeded rows. Read over a connection without
    // a default database, so the recorder leaves these reads out.
    own = await createConnection(parseDatabaseUrl(database.url).credentials);
    for (let waited = 0; ; waited += 50) {
      const [[left]] = (await own.query(
        `SELECT (SELECT COUNT(*) FROM \`${database.name}\`.contact_tombstones WHERE delete_time < UTC_TIMESTAMP(3) - INTERVAL 30 DAY) + ` +
          `(SELECT COUNT(*) FROM \`${database.name}\`.request_outcomes WHERE expire_time < UTC_TIMESTAMP(3)) AS n`,
      )) as unknown as [[{ n: number }]];
      if (Number(left.n) === 0) break;
      if (waited > 10_000) throw new Error("the purges did not run at startup");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await own.end();
  } finally {
    await app.close();
    recorder.stop();
  }
  texts = recorder.texts;
  report = checkRouting(texts, loadVSchema(), EXCEPTIONS);
  if (process.env.VITESS_SQL_DUMP)
    (await import("node:fs")).writeFileSync(
      process.env.VITESS_SQL_DUMP,
      [...new Set(texts.map(shape))].join("\n"),
    );
  console.log(
    `vitess routing: ${texts.length} SQL texts (${new Set(texts.map(shape)).size} distinct), ` +
      `${report.statements.length} statements, ${report.statements.filter((s) => s.keyspace === "sharded").length} on the sharded keyspace`,
  );
}, 60_000);

afterAll(async () => {
  await database?.drop();
});

/** Every RPC of ContactService, on two firms, with request ids, dry runs, page tokens and a resumed watch. */
async function exerciseEveryRpc(url: string, firmId: string, otherFirm: string): Promise<void> {
  const client = grpcJsClient(url);
  const batch = grpcJsBatchClient(url);
  const watch = grpcJsWatch(client.raw, { firmId, startTime: timestampFromMs(0) });
  const otherWatch = grpcJsWatch(client.raw, { firmId: otherFirm });
  called.add("watchContactChanges");
  try {
    const ann = { firmId, email: "ann@example.com", firstName: "Ann", lastName: "Lee" };
    const { contact } = await client.upsert({ ...ann, requestId: "r-1" });
    await client.upsert({ ...ann, requestId: "r-1" }); // a replay
    await client.upsert({ ...ann, city: "Oslo", validateOnly: true });
    await client.upsert({
      firmId,
      trackingId: "T-1",
      email: "bo@example.com",
      firstName: "Bo",
      lastName: "Ek",
    });
    await client.upsert({ firmId, trackingId: "T-1", phone: "555" });
    called.add("upsertContact");
    await batch.batch({
      firmId,
      requestId: "b-1",
      requests: [
        { email: "ann@example.com", company: "Acme" },
        { trackingId: "T-2", email: "cy@example.com", firstName: "Cy", lastName: "Ox" },
        { email: "di@example.com", firstName: "Di", lastName: "Ax" },
      ],
    });
    await batch.batch({
      firmId,
      allOrNone: true,
      validateOnly: true,
      requests: [{ email: "x@example.com" }],
    });
    called.add("batchUpsertContacts");
    const id = contact?.id ?? "";
    await client.get({ firmId, id });
    called.add("getContact");
    const first = await client.list({ firmId, pageSize: 2 });
    await client.list({ firmId, pageSize: 2, pageToken: first.nextPageToken });
    called.add("listContacts");
    await client.update({
      firmId,
      contact: { id, email: "ann.lee@example.com", city: "Bergen" },
      updateMask: { paths: ["email", "city"] },
    });
    await client.update({ firmId, contact: { id, title: "Dr" }, updateMask: { paths: ["title"] } });
    called.add("updateContact");
    await client.assign({ firmId, contactId: id, clientIds: ["c-1", "c-2"], investmentEntityIds: ["e-1"] });
    called.add("assignContact");
    await client.unassign({ firmId, contactId: id, clientIds: ["c-1"] });
    called.add("unassignContact");
    const changes = await client.changes({ firmId, contactId: id, pageSize: 2 });
    await client.changes({ firmId, contactId: id, pageSize: 2, pageToken: changes.nextPageToken });
    called.add("listContactChanges");
    await client.delete({ firmId, id });
    called.add("deleteContact");
    await client.list({ firmId, showDeleted: true, updatedAfter: timestampFromMs(0) });
    await client.changes({ firmId, contactId: id });
    await client.upsert({ firmId: otherFirm, email: "eve@example.com", firstName: "Eve", lastName: "Ra" });
    await watch.until((m) => m.some((x) => x.changes.some((c) => c.kind === ChangeKind.DELETED)), 10_000);
    await otherWatch.until((m) => m.some((x) => x.changes.length > 0), 10_000);
    // A resumed watch reads its backlog from the token.
    const resumed = grpcJsWatch(client.raw, { firmId, resumeToken: watch.messages[0]?.resumeToken ?? "" });
    await resumed.until((m) => m.some((x) => x.changes.length > 0), 10_000);
    resumed.cancel();
  } finally {
    watch.cancel();
    otherWatch.cancel();
    client.close();
    batch.close();
  }
}

/** A text with its values blanked, to count statement shapes rather than calls. */
function shape(text: string): string {
  return text
    .replace(/'(?:[^'\\]|\\.)*'/g, "?")
    .replace(/X'[0-9a-f]*'/gi, "?")
    .replace(/\b\d+\b/g, "?");
}

describe("ready for Vitess (deploy/vitess VSchema, by simulation)", () => {
  it("the run called every RPC of ContactService", () => {
    expect([...called].sort()).toEqual(ContactService.methods.map((m) => m.localName).sort());
  });

  it("every statement on a sharded table names one firm, so vtgate routes it to one shard", () => {
    expect(report.statements.filter((s) => s.keyspace === "sharded").length).toBeGreaterThan(30);
    expect(report.problems).toEqual([]);
  });

  it("the statements that reach several shards are the listed exceptions, each seen in the run", () => {
    expect(new Set(report.used.keys())).toEqual(new Set(EXCEPTIONS.map((e) => e.name)));
  });

  it("no statement mixes the sharded keyspace with the unsharded one, nor names a table in no VSchema", () => {
    expect(report.statements.filter((s) => s.keyspace === "both")).toEqual([]);
  });

  it("every text the service sends (a transaction's round trip) writes at most one firm", () => {
    const vschema = loadVSchema();
    const spanning = texts.filter((text) => {
      const writes = routeText(text, vschema).filter((s) => s.keyspace === "sharded" && s.kind !== "select");
      return new Set(writes.flatMap((s) => s.firms)).size > 1;
    });
    expect(spanning).toEqual([]);
  });

  it("every table is in one VSchema, and each sharded one has a NOT NULL firm_id", async () => {
    const vschema = loadVSchema();
    const connection = await database.connect();
    try {
      const [tables] = (await connection.query(
        "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()",
      )) as unknown as [{ name: string }[]];
      for (const { name } of tables) {
        expect(Number(vschema.sharded.has(name)) + Number(vschema.unsharded.has(name)), name).toBe(1);
      }
      expect([...vschema.sharded.keys(), ...vschema.unsharded].sort()).toEqual(
        tables.map((t) => t.name).sort(),
      );
      const [columns] = (await connection.query(
        "SELECT TABLE_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND COLUMN_NAME = 'firm_id' AND IS_NULLABLE = 'NO'",
      )) as unknown as [{ name: string }[]];
      expect(
        columns
          .map((c) => c.name)
          .filter((n) => vschema.sharded.has(n))
          .sort(),
      ).toEqual([...vschema.sharded.keys()].sort());
    } finally {
      await connection.end();
    }
  });

  it("every unique key of a sharded table leads with firm_id, but the listed random ids", async () => {
    const vschema = loadVSchema();
    const connection = await database.connect();
    try {
      const [keys] = (await connection.query(
        "SELECT TABLE_NAME AS tbl, INDEX_NAME AS idx, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) AS cols " +
          "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND NON_UNIQUE = 0 " +
          "GROUP BY TABLE_NAME, INDEX_NAME",
      )) as unknown as [{ tbl: string; idx: string; cols: string }[]];
      const sharded = keys.filter((k) => vschema.sharded.has(k.tbl));
      expect(sharded.length).toBeGreaterThan(5);
      const notLeading = sharded
        .filter((k) => !k.cols.startsWith("firm_id"))
        .map((k) => `${k.tbl}.${k.idx}(${k.cols})`);
      expect(notLeading.sort()).toEqual(Object.keys(UNIQUE_KEY_EXCEPTIONS).sort());
    } finally {
      await connection.end();
    }
  });
});

import { setTimeout as sleep } from "node:timers/promises";
import { type Connection, createConnection } from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UpsertResult } from "../../gen/contacts/v1/contact_service_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { failure, grpcJsClient } from "../support/clients.js";
import { uniqueFirm } from "../support/database.js";
import { GALERA_MISSING, type GaleraCluster, startGaleraCluster } from "../support/galera-cluster.js";
import { reportSkip } from "../support/private-mariadb.js";

// The service on a three-node Galera cluster (issue 24, docs/galera.md): several writer nodes, a writer node killed
// under load, and its rejoin. Takes about five minutes, so it runs only with GALERA=1 (npm run test:galera, and
// npm run test:long). GALERA_SECONDS sets each load phase (default 30). Figures are printed as "galera figure".

const SKIP =
  process.env.GALERA !== "1"
    ? "runs only with GALERA=1 (npm run test:galera): it starts three Galera nodes and takes minutes"
    : GALERA_MISSING;
reportSkip("galera.test.ts", SKIP);

const SECONDS = Number(process.env.GALERA_SECONDS ?? 30);
const WORKERS = 16; // clients per instance, each one call at a time
const EMAILS = 40; // a small set, so the two writer nodes collide on the same rows
const CALL_TIMEOUT_MS = 15_000;

/** An acknowledged (OK) upsert: what the caller was told is stored. */
interface Ack {
  readonly worker: string;
  readonly id: string;
  readonly email: string;
  readonly firstName: string;
  readonly result: UpsertResult;
  readonly updateMs: number;
  readonly answeredAt: number;
}

interface LoadOutcome {
  readonly acks: Ack[];
  readonly errors: Record<string, number>;
  /** Answer times of failed calls, for the failover window. */
  readonly failedAt: number[];
  readonly seconds: number;
}

const figure = (name: string, value: unknown) =>
  console.log(`galera figure: ${name} = ${JSON.stringify(value)}`);

/**
 * WORKERS clients per URL upsert random emails of one firm, each a new first name, until `stop` resolves; every
 * OK answer is recorded as an Ack, every failure counted by code.
 */
async function runLoad(
  urls: readonly string[],
  firmId: string,
  stop: Promise<unknown>,
): Promise<LoadOutcome> {
  let stopped = false;
  void stop.then(() => {
    stopped = true;
  });
  const outcome: LoadOutcome = { acks: [], errors: {}, failedAt: [], seconds: 0 };
  const started = Date.now();
  const clients = urls.map((url) => grpcJsClient(url));
  try {
    await Promise.all(
      clients.flatMap((client, c) =>
        Array.from({ length: WORKERS }, async (_, w) => {
          const worker = `i${c}w${w}`;
          for (let n = 0; !stopped; n++) {
            const email = `e${Math.floor(Math.random() * EMAILS)}@example.com`;
            const firstName = `${worker}-${n}`;
            try {
              const answer = await client.upsert(
                { firmId, email, firstName, lastName: "Galera" },
                { timeoutMs: CALL_TIMEOUT_MS },
              );
              const time = answer.contact?.updateTime;
              outcome.acks.push({
                worker,
                id: answer.contact?.id ?? "",
                email,
                firstName,
                result: answer.result,
                updateMs: Number(time?.seconds ?? 0) * 1000 + Math.round((time?.nanos ?? 0) / 1e6),
                answeredAt: Date.now(),
              });
            } catch (error) {
              const { code } = await failure(Promise.reject(error));
              outcome.errors[code] = (outcome.errors[code] ?? 0) + 1;
              outcome.failedAt.push(Date.now());
              await sleep(50);
            }
          }
        }),
      ),
    );
  } finally {
    for (const client of clients) client.close();
  }
  return { ...outcome, seconds: (Date.now() - started) / 1000 };
}

/** Every invariant the issue lists, read on `db`; returns each violation found (none expected). */
async function violations(
  db: Connection,
  firmId: string,
  acks: readonly Ack[],
): Promise<Record<string, number>> {
  const rows = async <T>(sql: string, params: unknown[] = [firmId]) =>
    (await db.query(sql, params))[0] as T[];
  const contacts = await rows<{
    id: string;
    email: string;
    first_name: string;
    create_ms: number;
    update_ms: number;
  }>(
    "SELECT id, email, first_name, CAST(ROUND(UNIX_TIMESTAMP(create_time) * 1000) AS SIGNED) AS create_ms, " +
      "CAST(ROUND(UNIX_TIMESTAMP(update_time) * 1000) AS SIGNED) AS update_ms FROM contacts WHERE firm_id = ?",
  );
  const changes = await rows<{ contact_id: string; change_ms: number; kind: string; fields: string }>(
    "SELECT contact_id, CAST(ROUND(UNIX_TIMESTAMP(change_time) * 1000) AS SIGNED) AS change_ms, kind, fields " +
      "FROM contact_changes WHERE firm_id = ? ORDER BY contact_id, change_time, seq",
  );
  const [clock] = await rows<{ last_ms: number }>(
    "SELECT CAST(ROUND(UNIX_TIMESTAMP(last_time) * 1000) AS SIGNED) AS last_ms FROM firm_clocks WHERE firm_id = ?",
  );
  const byId = new Map(contacts.map((c) => [c.id, c]));
  const history = new Map<string, typeof changes>();
  for (const change of changes)
    history.set(change.contact_id, [...(history.get(change.contact_id) ?? []), change]);
  const found: Record<string, number> = {};
  const count = (name: string, n = 1) => {
    if (n > 0) found[name] = (found[name] ?? 0) + n;
  };
  // No duplicate keys (the unique indexes must hold on every node).
  count("duplicate emails", contacts.length - new Set(contacts.map((c) => c.email.toLowerCase())).size);
  // Every acknowledged call's effect is stored: its contact, and a history row at the time it was told.
  for (const ack of acks) {
    const contact = byId.get(ack.id);
    if (!contact) {
      count("acknowledged contact missing");
      continue;
    }
    if (contact.update_ms < ack.updateMs) count("contact older than an acknowledged change");
    // Every call sets a new first name, so every acknowledged call changed its contact.
    if (!history.get(ack.id)?.some((h) => h.change_ms === ack.updateMs))
      count("acknowledged change without its history row");
  }
  // History complete and chained: created at create_time first, each change's old first name the previous new
  // one, the last at update_time and ending in the stored first name; none for a contact that does not exist.
  for (const id of history.keys()) if (!byId.has(id)) count("history of a missing contact");
  for (const contact of contacts) {
    const entries = history.get(contact.id) ?? [];
    if (entries.length === 0) {
      count("contact without history");
      continue;
    }
    const [first] = entries;
    if (first?.kind !== "created" || first.change_ms !== contact.create_ms)
      count("history not starting at creation");
    if (entries[entries.length - 1]?.change_ms !== contact.update_ms)
      count("history not ending at update_time");
    let name: string | null = null;
    for (const entry of entries) {
      const triple = (JSON.parse(entry.fields) as [string, string | null, string | null][]).find(
        ([field]) => field === "first_name",
      );
      if (!triple) continue;
      if ((triple[1] ?? null) !== name) count("history chain broken");
      name = triple[2] ?? null;
    }
    if (name !== contact.first_name) count("history not ending in the stored value");
  }
  // The firm's clock is monotonic: it is at or past every stored time, and each client's sequential calls were
  // told strictly increasing times, across both instances and nodes.
  const latest = Math.max(0, ...contacts.map((c) => c.update_ms));
  if (!clock || clock.last_ms < latest) count("firm clock behind a stored time");
  const lastByWorker = new Map<string, number>();
  for (const ack of [...acks].sort((a, b) => a.answeredAt - b.answeredAt)) {
    const previous = lastByWorker.get(ack.worker);
    if (previous !== undefined && ack.updateMs <= previous) count("a client's times not increasing");
    lastByWorker.set(ack.worker, ack.updateMs);
  }
  return found;
}

describe.skipIf(SKIP !== undefined)("the service on a three-node Galera cluster", () => {
  let cluster: GaleraCluster;
  let checker: Connection | undefined;
  const apps: TestApp[] = [];
  const startApp = async (url: string, env: Record<string, string> = {}) => {
    const app = await startTestApp({ DATABASE_URL: url, DB_POOL_SIZE: "8", ...env });
    apps.push(app);
    return app;
  };
  const closeApps = async () => {
    for (const app of apps.splice(0)) await app.close().catch(() => undefined);
  };
  /** A connection to node 2 that waits for the cluster before reading (it sees every committed write). */
  const check = async (database: string) => {
    await checker?.end().catch(() => undefined);
    const node = cluster.nodes[1];
    checker = await createConnection({
      host: "127.0.0.1",
      port: node?.port,
      user: "root",
      database,
      timezone: "Z",
    });
    await checker.query("SET SESSION wsrep_sync_wait = 1, time_zone = '+00:00'");
    return checker;
  };

  beforeAll(async () => {
    const started = Date.now();
    cluster = await startGaleraCluster();
    figure("cluster start seconds", (Date.now() - started) / 1000);
  }, 400_000);
  afterAll(async () => {
    await closeApps();
    await checker?.end().catch(() => undefined);
    await cluster?.stop();
  }, 60_000);

  it("the cluster is detected: one statement a round trip", { timeout: 120_000 }, async () => {
    const app = await startApp(`${cluster.nodes[0]?.url}/contacts_detect`);
    expect(app.databaseCluster).toBe("galera (3 nodes), one statement a trip");
    await closeApps();
  });

  it("instances started at once on two nodes against an empty database migrate once, every round", {
    timeout: 300_000,
  }, async () => {
    for (const round of [1, 2, 3]) {
      const database = `contacts_race${round}`;
      await Promise.all(cluster.nodes.slice(0, 2).map((node) => startApp(`${node.url}/${database}`)));
      const [migrations] = (await (
        await check(database)
      ).query("SELECT COUNT(*) AS n FROM migrations")) as unknown as [{ n: number }[]];
      expect(Number(migrations[0]?.n)).toBeGreaterThanOrEqual(8);
      await closeApps();
    }
  });

  it("two instances writing one firm through two different nodes: every invariant holds", {
    timeout: (SECONDS + 120) * 1000,
  }, async () => {
    const urls = [
      (await startApp(`${cluster.nodes[0]?.url}/contacts_multi`)).url,
      (await startApp(`${cluster.nodes[1]?.url}/contacts_multi`)).url,
    ];
    const firmId = uniqueFirm("galera");
    const outcome = await runLoad(urls, firmId, sleep(SECONDS * 1000));
    figure("two writer nodes, statement by statement", {
      acknowledged: outcome.acks.length,
      perSecond: Math.round(outcome.acks.length / outcome.seconds),
      errors: outcome.errors,
      retries: apps.map((app) => app.retries),
    });
    expect(outcome.acks.length).toBeGreaterThan(100);
    expect(await violations(await check("contacts_multi"), firmId, outcome.acks)).toEqual({});
    await closeApps();
  });

  it("with DB_PIPELINE=on forced, the same load shows what the one-packet commit loses (figure, not asserted)", {
    timeout: (SECONDS + 120) * 1000,
  }, async () => {
    const urls = [
      (await startApp(`${cluster.nodes[0]?.url}/contacts_multi`, { DB_PIPELINE: "on" })).url,
      (await startApp(`${cluster.nodes[1]?.url}/contacts_multi`, { DB_PIPELINE: "on" })).url,
    ];
    const firmId = uniqueFirm("galera-on");
    const outcome = await runLoad(urls, firmId, sleep(SECONDS * 1000));
    figure("two writer nodes, one packet (DB_PIPELINE=on)", {
      acknowledged: outcome.acks.length,
      perSecond: Math.round(outcome.acks.length / outcome.seconds),
      errors: outcome.errors,
      violations: await violations(await check("contacts_multi"), firmId, outcome.acks),
    });
    await closeApps();
  });

  it("throughput through haproxy (one writer node): one packet against statement by statement", {
    timeout: (2 * Math.min(SECONDS, 15) + 120) * 1000,
  }, async () => {
    const perSecond: Record<string, number> = {};
    for (const pipeline of ["on", "off"]) {
      const app = await startApp(cluster.haproxyUrl("contacts_haproxy"), { DB_PIPELINE: pipeline });
      const firmId = uniqueFirm(`galera-${pipeline}`);
      const outcome = await runLoad([app.url], firmId, sleep(Math.min(SECONDS, 15) * 1000));
      perSecond[pipeline === "on" ? "onePacket" : "statementByStatement"] = Math.round(
        outcome.acks.length / outcome.seconds,
      );
      expect(outcome.errors).toEqual({});
      await closeApps();
    }
    figure("one writer node, upserts per second", perSecond);
  });

  it("a read on another node right after a write sees it with wsrep_sync_wait=1 (figure: misses and cost without)", {
    timeout: 120_000,
  }, async () => {
    const [node1, node2] = cluster.nodes;
    const writer = await createConnection({ host: "127.0.0.1", port: node1?.port, user: "root" });
    const reader = await createConnection({ host: "127.0.0.1", port: node2?.port, user: "root" });
    try {
      await writer.query("CREATE DATABASE IF NOT EXISTS sync_probe");
      await writer.query("CREATE TABLE IF NOT EXISTS sync_probe.probe (id INT PRIMARY KEY, v INT NOT NULL)");
      await writer.query("REPLACE INTO sync_probe.probe VALUES (1, 0)");
      const result: Record<string, { misses: number; readMs: number }> = {};
      for (const syncWait of [0, 1]) {
        await reader.query(`SET SESSION wsrep_sync_wait = ${syncWait}`);
        let misses = 0;
        let readMs = 0;
        const reads = 500;
        for (let i = 1; i <= reads; i++) {
          await writer.query("UPDATE sync_probe.probe SET v = ? WHERE id = 1", [syncWait * 1_000_000 + i]);
          const started = performance.now();
          const [rows] = (await reader.query("SELECT v FROM sync_probe.probe WHERE id = 1")) as unknown as [
            { v: number }[],
          ];
          readMs += performance.now() - started;
          if (rows[0]?.v !== syncWait * 1_000_000 + i) misses++;
        }
        result[`wsrep_sync_wait=${syncWait}`] = { misses, readMs: Number((readMs / reads).toFixed(3)) };
      }
      figure("reads of 500 writes made on another node (stale reads, mean read ms)", result);
      expect(result["wsrep_sync_wait=1"]?.misses).toBe(0);
    } finally {
      await writer.end();
      await reader.end();
    }
  });

  it("the writer node killed under load: service back within seconds, nothing acknowledged lost; its rejoin costs no client an error", {
    timeout: (3 * SECONDS + 300) * 1000,
  }, async () => {
    const [node1] = cluster.nodes;
    if (!node1) throw new Error("no node 1");
    const urls = [
      (await startApp(cluster.haproxyUrl("contacts_failover"))).url,
      (await startApp(cluster.haproxyUrl("contacts_failover"))).url,
    ];
    const firmId = uniqueFirm("galera-kill");
    let killedAt = 0;
    const killPhase = runLoad(
      urls,
      firmId,
      (async () => {
        await sleep(5_000);
        killedAt = Date.now();
        await node1.kill();
        await sleep(Math.max(SECONDS, 20) * 1000);
      })(),
    );
    const killed = await killPhase;
    const sorted = killed.acks.map((a) => a.answeredAt).sort((a, b) => a - b);
    let longestGap = 0;
    for (let i = 1; i < sorted.length; i++)
      longestGap = Math.max(longestGap, (sorted[i] ?? 0) - (sorted[i - 1] ?? 0));
    figure("writer node killed", {
      acknowledged: killed.acks.length,
      errors: killed.errors,
      longestGapWithoutAnswerSeconds: longestGap / 1000,
      lastErrorAfterKillSeconds:
        killed.failedAt.length > 0 ? (Math.max(...killed.failedAt) - killedAt) / 1000 : 0,
    });
    expect(Object.keys(killed.errors).filter((code) => code !== "UNAVAILABLE")).toEqual([]);
    expect(longestGap).toBeLessThan(30_000);
    expect(await violations(await check("contacts_failover"), firmId, killed.acks)).toEqual({});

    // Rejoin: node 1 recovers its position and catches up by IST while the load goes on through node 2; haproxy
    // moves the traffic back only once it is synced (and closes the backup's sessions, which the pool replaces).
    const rejoinStarted = Date.now();
    const rejoined = await runLoad(
      urls,
      firmId,
      (async () => {
        // Waits that fit in the test's own timeout, so a rejoin that stalls fails with node 1's error log.
        await node1.start({ recover: true });
        await node1.synced(3, 150_000);
        figure("rejoin seconds (recover, IST, synced)", (Date.now() - rejoinStarted) / 1000);
        await sleep(10_000); // haproxy's rise (3 checks a second apart), then traffic on node 1
      })(),
    );
    figure("rejoin under load", { acknowledged: rejoined.acks.length, errors: rejoined.errors });
    expect(rejoined.errors).toEqual({});
    expect(
      await violations(await check("contacts_failover"), firmId, [...killed.acks, ...rejoined.acks]),
    ).toEqual({});
  });
});

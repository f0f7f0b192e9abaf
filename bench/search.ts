import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createConnection } from "mysql2/promise";
import { ContactService } from "../gen/contacts/v1/contact_service_pb.js";
import { startApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { newContactId } from "../src/contacts/contact-id.js";
import { emailKeyColumnValue } from "../src/db/columns.js";
import { parseDatabaseUrl } from "../src/db/database.js";
import { createLogger } from "../src/logger.js";
import { createRawPool } from "./raw-mysql.js";

/**
 * `npm run bench:search`: ListContacts' finds on one firm of SEARCH_CONTACTS (100,000) contacts, a page of 50,
 * as the contact book page asks them (docs/contact-book.md). Each query kind runs SEARCH_ROUNDS times, one call
 * at a time over gRPC (connect-node, h2c) against startApp in this process, interleaved so the machine's noise
 * falls on every kind alike; GetContact by id is the baseline (the whole stack around a primary-key read).
 * It drops and recreates the database `contacts_search_bench`.
 */

const CONTACTS = Number(process.env.SEARCH_CONTACTS ?? 100_000);
const ROUNDS = Number(process.env.SEARCH_ROUNDS ?? 200);
const PAGE = 50;
const FIRM = "bench-firm";
const DATABASE = "contacts_search_bench";
const FIRST = ["Ann", "Anna", "Bob", "Carl", "Dana", "Erik", "Fay", "Gus", "Hana", "Ivan", "Jose", "Kim"];
const FIRST_MORE = ["Lena", "Mia", "Nils", "Olga", "Per", "Quinn", "Rita", "Sam", "Tove", "Ulla", "Vera"];
const SYLLABLES = ["berg", "lund", "son", "ström", "dahl", "vik", "holm", "gren", "ek", "nord", "al", "by"];

// Deterministic, so every run seeds the same names.
function* people(count: number) {
  const firsts = [...FIRST, ...FIRST_MORE];
  for (let n = 0; n < count; n++) {
    const first = firsts[n % firsts.length] as string;
    const a = SYLLABLES[Math.floor(n / 7) % SYLLABLES.length] as string;
    const b = SYLLABLES[Math.floor(n / 83) % SYLLABLES.length] as string;
    const last = `${a.charAt(0).toUpperCase()}${a.slice(1)}${b}${n % 10}`;
    yield { first, last, email: `person.${n}@example.com`, trackingId: `crm-${n}` };
  }
}

async function seed(url: string): Promise<void> {
  const pool = createRawPool(url, 2);
  const start = Date.now() - CONTACTS * 10;
  let rows: unknown[][] = [];
  let n = 0;
  const flush = async () => {
    if (rows.length === 0) return;
    await pool.query(
      "INSERT INTO contacts (id, firm_id, tracking_id, email, email_key, first_name, last_name, create_time, update_time) VALUES ?",
      [rows],
    );
    rows = [];
  };
  for (const person of people(CONTACTS)) {
    const time = new Date(start + n * 10);
    rows.push([
      newContactId(time.getTime()),
      FIRM,
      person.trackingId,
      person.email,
      emailKeyColumnValue(person.email),
      person.first,
      person.last,
      time,
      time,
    ]);
    n++;
    if (rows.length === 1000) await flush();
  }
  await flush();
  await pool.query("ANALYZE TABLE contacts");
  await pool.end();
}

const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;

async function main(): Promise<void> {
  const base = parseDatabaseUrl(process.env.DATABASE_URL ?? "mysql://root@127.0.0.1:3306/contacts");
  const admin = await createConnection(base.credentials);
  await admin.query(`DROP DATABASE IF EXISTS \`${DATABASE}\``);
  await admin.query(`CREATE DATABASE \`${DATABASE}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  await admin.end();
  const { host, port, user, password } = base.credentials;
  const auth = password
    ? `${encodeURIComponent(user)}:${encodeURIComponent(password)}`
    : encodeURIComponent(user);
  const url = `mysql://${auth}@${host}:${port}/${DATABASE}`;
  const config = loadConfig({ ...process.env, PORT: "0", DATABASE_URL: url, LOG_LEVEL: "warn" });
  const app = await startApp(config, createLogger(config.logLevel));
  try {
    const seedStart = Date.now();
    await seed(url);
    console.log(
      `seeded ${CONTACTS} contacts in one firm in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`,
    );
    const client = createClient(ContactService, createGrpcTransport({ baseUrl: app.server.url }));
    const pick = (round: number) => (round * 7919) % CONTACTS;
    const someId = (await client.listContacts({ firmId: FIRM, pageSize: 1 })).contacts[0]?.id ?? "";
    const kinds: Record<string, (round: number) => Promise<number>> = {
      "GetContact by id (baseline)": async () =>
        (await client.getContact({ firmId: FIRM, id: someId })) ? 1 : 0,
      "newest first": async () =>
        (await client.listContacts({ firmId: FIRM, pageSize: PAGE, orderBy: "update_time desc" })).contacts
          .length,
      "email, another case": async (round) =>
        (
          await client.listContacts({
            firmId: FIRM,
            pageSize: PAGE,
            orderBy: "update_time desc",
            filter: `email = "PERSON.${pick(round)}@EXAMPLE.COM"`,
          })
        ).contacts.length,
      "tracking id": async (round) =>
        (
          await client.listContacts({
            firmId: FIRM,
            pageSize: PAGE,
            orderBy: "update_time desc",
            filter: `tracking_id = "crm-${pick(round)}"`,
          })
        ).contacts.length,
      'name prefix "ann*"': async () =>
        (
          await client.listContacts({
            firmId: FIRM,
            pageSize: PAGE,
            orderBy: "update_time desc",
            filter: 'name = "ann*"',
          })
        ).contacts.length,
      'name prefix "holmb*"': async () =>
        (
          await client.listContacts({
            firmId: FIRM,
            pageSize: PAGE,
            orderBy: "update_time desc",
            filter: 'name = "holmb*"',
          })
        ).contacts.length,
      "no match": async () =>
        (
          await client.listContacts({
            firmId: FIRM,
            pageSize: PAGE,
            orderBy: "update_time desc",
            filter: 'name = "zzq*"',
          })
        ).contacts.length,
    };
    const times = new Map<string, number[]>(Object.keys(kinds).map((k) => [k, []]));
    const found = new Map<string, number>();
    for (let round = -20; round < ROUNDS; round++) {
      for (const [kind, run] of Object.entries(kinds)) {
        const t0 = performance.now();
        const count = await run(Math.max(round, 0));
        const ms = performance.now() - t0;
        if (round >= 0) times.get(kind)?.push(ms);
        found.set(kind, count);
      }
    }
    console.log(`ListContacts, page ${PAGE}, ${ROUNDS} calls each, one at a time (ms)`);
    console.log("| query | contacts on the page | p50 ms | p95 ms | p50 / baseline |");
    console.log("|---|---|---|---|---|");
    const baseline = percentile(
      [...(times.get("GetContact by id (baseline)") ?? [])].sort((a, b) => a - b),
      50,
    );
    for (const [kind, list] of times) {
      const sorted = [...list].sort((a, b) => a - b);
      const p50 = percentile(sorted, 50);
      console.log(
        `| ${kind} | ${found.get(kind)} | ${p50.toFixed(1)} | ${percentile(sorted, 95).toFixed(1)} | ${(p50 / baseline).toFixed(1)} |`,
      );
    }
  } finally {
    await app.close();
    const drop = await createConnection(base.credentials);
    await drop.query(`DROP DATABASE IF EXISTS \`${DATABASE}\``);
    await drop.end();
  }
}

await main();

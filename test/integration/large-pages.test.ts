import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BatchUpsertContactsRequestSchema,
  BatchUpsertContactsResponseSchema,
  ContactService,
  ListContactsRequestSchema,
} from "../../gen/contacts/v1/contact_service_pb.js";
import { MAX_ASSIGNMENTS_PER_KIND } from "../../src/contacts/assignments.js";
import { grpcJsClient } from "../support/clients.js";
import { closeSqlPool, sql, uniqueFirm } from "../support/database.js";
import { REPO_ROOT, type ServerProcess, spawnServer } from "../support/server-process.js";

const run = promisify(execFile);

const CONTACTS = 200;
const CONCURRENT_PAGES = 20;
// One round in CI; five under `npm run test:long` (CHAOS_SECONDS set).
const ROUNDS = process.env.CHAOS_SECONDS ? 5 : 1;
const DEFAULT_GRPC_RECEIVE_LIMIT = 4 * 1024 * 1024;

const rssMiB = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) / 1024;

// An assignment id at the maximum: 64 code points of 4 bytes each, the first four spelling its number.
const DIGITS = [..."𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗"];
const maxId = (n: number) =>
  [...String(n).padStart(4, "0")].map((d) => DIGITS[Number(d)]).join("") + "𝟎".repeat(60);

let server: ServerProcess;
let client: ReturnType<typeof grpcJsClient>;
const firmId = uniqueFirm("large");
const otherFirm = uniqueFirm("probe");
let probeId: string;

beforeAll(async () => {
  // What is measured is memory and another firm's latency, not load shedding: 20 pages of one firm may wait for
  // database slots longer than the default 3 s queue timeout on a machine shared with other test runs.
  server = await spawnServer({ DB_QUEUE_TIMEOUT_MS: "20000" });
  client = grpcJsClient(server.url);
  // One contact at the assignment maximum through the service, then copied by SQL: 199 more rows like it.
  const first = await client.upsert({ firmId, email: "u0@example.com", firstName: "Max", lastName: "Size" });
  const ids = Array.from({ length: MAX_ASSIGNMENTS_PER_KIND }, (_, i) => maxId(i));
  const contactId = first.contact?.id as string;
  await client.assign({ firmId, contactId, clientIds: ids, investmentEntityIds: ids });
  await sql(
    `INSERT INTO contacts (id, firm_id, email, email_key, first_name, last_name, create_time, update_time, assignments)
     SELECT UUID(), c.firm_id, CONCAT('u', s.seq, '@example.com'), CONCAT('u', s.seq, '@example.com'), c.first_name,
       c.last_name, c.create_time, c.update_time + INTERVAL s.seq * 1000 MICROSECOND, c.assignments
     FROM contacts c JOIN seq_1_to_${CONTACTS - 1} s WHERE c.firm_id = ? AND c.id = ?`,
    [firmId, contactId],
  );
  const probe = await client.upsert({
    firmId: otherFirm,
    email: "probe@example.com",
    firstName: "P",
    lastName: "Q",
  });
  probeId = probe.contact?.id as string;
}, 60_000);

afterAll(async () => {
  client?.close();
  await server?.stop();
  await closeSqlPool();
});

describe("pages of a firm whose contacts are at the assignment maximum", () => {
  it("are paged through by a default grpc-js client, each contact exactly once, within its receive limit", async () => {
    const seen: string[] = [];
    const sizes: number[] = [];
    let pageToken = "";
    do {
      const page = await client.list({ firmId, pageSize: 1000, pageToken });
      sizes.push(page.contacts.length);
      for (const contact of page.contacts) {
        expect(contact.clientIds).toHaveLength(MAX_ASSIGNMENTS_PER_KIND);
        seen.push(contact.id);
      }
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    console.info(`${CONTACTS} contacts in ${sizes.length} pages of ${JSON.stringify([...new Set(sizes)])}`);
    expect(seen).toHaveLength(CONTACTS);
    expect(new Set(seen).size).toBe(CONTACTS);
    // Each contact is about 0.52 MB: a page holds what fits the 4 MiB a default gRPC client accepts.
    expect(Math.max(...sizes)).toBeLessThanOrEqual(DEFAULT_GRPC_RECEIVE_LIMIT / 500_000);
  }, 60_000);

  it("keep the server's memory bounded under 20 concurrent pages, and another firm's reads fast", async () => {
    const pid = server.child.pid as number;
    let peak = rssMiB(pid);
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMiB(pid));
    }, 20);
    // The probe's latency on this machine right now, without the pages: the machine is shared with other runs.
    const idle: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      await client.get({ firmId: otherFirm, id: probeId });
      idle.push(performance.now() - started);
    }
    idle.sort((a, b) => a - b);
    const latencies: number[] = [];
    let loading = true;
    const probing = (async () => {
      while (loading) {
        const started = performance.now();
        await client.get({ firmId: otherFirm, id: probeId });
        latencies.push(performance.now() - started);
      }
    })();
    // Default grpc-js clients in a process of their own (test/support/page-readers.mjs): receiving 20 pages here
    // would stall this process's event loop, and with it the probe's clock, which measures the server.
    const request = toBinary(
      ListContactsRequestSchema,
      create(ListContactsRequestSchema, { firmId, pageSize: 1000 }),
    );
    let pageBytes: number[] = [];
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const { stdout } = await run(process.execPath, [
          join(REPO_ROOT, "test/support/page-readers.mjs"),
          server.url,
          Buffer.from(request).toString("base64"),
          String(CONCURRENT_PAGES),
          "4",
        ]);
        pageBytes = pageBytes.concat(JSON.parse(stdout) as number[]);
      }
    } finally {
      loading = false;
      await probing;
      clearInterval(sampler);
    }
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.floor(latencies.length * 0.99)] as number;
    console.info(
      `${pageBytes.length} pages of up to ${Math.max(...pageBytes)} bytes (${ROUNDS} rounds of ${CONCURRENT_PAGES} at once): peak RSS ${peak.toFixed(0)} MiB; other firm's GetContact ${latencies.length} calls, p50 ${latencies[Math.floor(latencies.length / 2)]?.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms; without the pages p50 ${idle[10]?.toFixed(1)} ms, max ${idle[19]?.toFixed(1)} ms`,
    );
    expect(pageBytes).toHaveLength(ROUNDS * CONCURRENT_PAGES);
    expect(Math.min(...pageBytes)).toBeGreaterThan(1_000_000);
    expect(peak).toBeLessThan(512);
    // 250 ms on a machine where an idle GetContact takes a few milliseconds. On one loaded by other test runs (an
    // idle median above 10 ms) the bound scales with the idle median: 25 times it, the same ratio.
    const idleMedian = idle[10] as number;
    expect(p99).toBeLessThan(idleMedian <= 10 ? 250 : 25 * idleMedian);
  }, 60_000);

  it("answer a batch that matches them within a default grpc-js client's limit, trimming the contacts that do not fit", async () => {
    // Every item matches a contact at the maximum by email and changes nothing: whole, the answer would be 104 MB.
    const request = create(BatchUpsertContactsRequestSchema, {
      firmId,
      requests: Array.from({ length: CONTACTS }, (_, i) => ({ email: `u${i}@example.com` })),
    });
    const bytes = await new Promise<Buffer>((resolve, reject) => {
      client.raw.makeUnaryRequest(
        `/${ContactService.typeName}/BatchUpsertContacts`,
        () => Buffer.from(toBinary(BatchUpsertContactsRequestSchema, request)),
        (answer: Buffer) => answer,
        {},
        (error, answer) => (error ? reject(error) : resolve(answer as Buffer)),
      );
    });
    const { results } = fromBinary(BatchUpsertContactsResponseSchema, bytes);
    const whole = results.filter((r) => !r.contactTrimmed);
    console.info(
      `batch of ${CONTACTS}: ${bytes.length} bytes, ${whole.length} contacts whole, the rest trimmed`,
    );
    expect(bytes.length).toBeLessThanOrEqual(DEFAULT_GRPC_RECEIVE_LIMIT);
    expect(results).toHaveLength(CONTACTS);
    // Whole from the first item on, then trimmed: id, firm and times, with the result itself complete.
    expect(results.findIndex((r) => r.contactTrimmed)).toBe(whole.length);
    expect(whole.length).toBeGreaterThan(0);
    for (const [i, result] of results.entries()) {
      expect(result.outcome.case).toBe("response");
      const response = result.outcome.value as {
        contact?: { id: string; email: string; clientIds: string[] };
      };
      expect(response.contact?.id).toMatch(/^[0-9a-f-]{36}$/);
      if (result.contactTrimmed) expect(response.contact).toMatchObject({ email: "", clientIds: [] });
      else expect(response.contact).toMatchObject({ email: `u${i}@example.com` });
    }
  }, 60_000);
});

import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.js";
import { closeSqlPool, sql, storedContacts, uniqueFirm } from "../support/database.js";
import { REPO_ROOT } from "../support/server-process.js";

// The examples in examples/ run as a reader would run them, as child processes against the real server, so a
// change of the contract or the libraries that breaks one breaks the build. The server has API keys on, so each
// example's token handling is exercised too.

const TOKEN = "tok-examples-2c91";
// The first buf curl call compiles the schema from reflection, which can take a few seconds on a busy machine.
const RUN_TIMEOUT_MS = 120_000;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: readonly string[], firmId: string, url = app.url): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      [...args, url],
      {
        cwd: REPO_ROOT,
        timeout: RUN_TIMEOUT_MS,
        env: { ...process.env, FIRM_ID: firmId, CONTACTS_TOKEN: TOKEN, CONTACTS_URL: "" },
      },
      (error, stdout, stderr) => {
        if (error?.killed) reject(new Error(`${args.join(" ")} timed out: ${stdout}${stderr}`));
        else resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
      },
    );
  });
}

let app: TestApp;
let openApp: TestApp;
let keysDir: string;
beforeAll(async () => {
  keysDir = await mkdtemp(path.join(tmpdir(), "contacts-examples-"));
  const keysFile = path.join(keysDir, "keys.json");
  const sha256 = createHash("sha256").update(TOKEN).digest("hex");
  await writeFile(keysFile, JSON.stringify([{ name: "examples", sha256, firms: ["*"] }]));
  app = await startTestApp({ API_KEYS_FILE: keysFile });
  openApp = await startTestApp();
});
afterAll(async () => {
  await app.close();
  await openApp.close();
  await rm(keysDir, { recursive: true, force: true });
  await closeSqlPool();
});

/** What every example leaves behind: one contact, created then updated (title set, phone cleared). */
async function expectStored(firmId: string, id: string): Promise<void> {
  const stored = await storedContacts(firmId);
  expect(stored).toHaveLength(1);
  expect(stored[0]).toMatchObject({
    id,
    tracking_id: "CRM-1",
    email: "ann@example.com",
    first_name: "Ann",
    title: "CTO",
    phone: null,
  });
}

// The Node examples print the same four lines: create, update, a BadRequest and an ErrorInfo read from errors.
const NODE_EXAMPLES = [
  { name: "grpc-js with @grpc/proto-loader", script: "examples/grpc-js/upsert-contact.js" },
  { name: "connect-node with the generated code", script: "dist/examples/connect-node/upsert-contact.js" },
];

describe.each(NODE_EXAMPLES)("the $name example", ({ script }) => {
  it("creates and updates a contact and reads the error details", { timeout: RUN_TIMEOUT_MS }, async () => {
    if (!existsSync(path.join(REPO_ROOT, script))) throw new Error(`${script} is missing: run npm run build`);
    const firmId = uniqueFirm("example");
    const { code, stdout, stderr } = await run(process.execPath, [script], firmId);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(4);
    const created = /^UPSERT_RESULT_CREATED (\S+) ann@example\.com, created (\S+)$/.exec(lines[0] ?? "");
    const id = created?.[1] ?? "";
    expect(id).not.toBe("");
    expect(Math.abs(Date.parse(created?.[2] ?? "") - Date.now())).toBeLessThan(10 * 60_000);
    expect(lines[1]).toBe(`UPSERT_RESULT_UPDATED ${id} title=CTO phone=(none)`);
    expect(lines[2]).toMatch(/^INVALID_ARGUMENT email: \S/);
    expect(lines[3]).toBe(`ALREADY_EXISTS EMAIL_TAKEN: the email belongs to contact ${id}`);
    await expectStored(firmId, id);
  });
});

describe("the buf curl and curl example", () => {
  it("creates and updates a contact and shows the error details", { timeout: RUN_TIMEOUT_MS }, async () => {
    const firmId = uniqueFirm("example-sh");
    const { code, stdout, stderr } = await run("bash", ["examples/shell/upsert-contact.sh"], firmId);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    // Each step prints a "# ..." heading and then what the tool printed.
    const sections = stdout.split(/^# .*$/m).slice(1);
    expect(sections).toHaveLength(4);
    const [create, update, invalid, conflict] = sections.map((text) => JSON.parse(text));
    expect(create).toMatchObject({
      result: "UPSERT_RESULT_CREATED",
      contact: { firmId, phone: "+1 555 0100" },
    });
    const id = create.contact.id as string;
    expect(update).toMatchObject({ result: "UPSERT_RESULT_UPDATED", contact: { id, title: "CTO" } });
    expect(update.contact).not.toHaveProperty("phone");
    expect(invalid).toMatchObject({
      code: "invalid_argument",
      details: [{ type: "google.rpc.BadRequest", debug: { fieldViolations: [{ field: "email" }] } }],
    });
    expect(conflict).toMatchObject({
      code: "already_exists",
      details: [
        { type: "google.rpc.ErrorInfo", debug: { reason: "EMAIL_TAKEN", metadata: { contactId: id } } },
      ],
    });
    await expectStored(firmId, id);
  });
});

/**
 * What every CRM sync example leaves behind: Ann, her email changed by UpdateContact, holding client C-1 only;
 * Cy as the batch created him; Bob deleted (a tombstone, no live row); nothing of the failing fourth item.
 */
async function expectSynced(firmId: string, annId: string, bobId: string, cyId: string): Promise<void> {
  const stored = await storedContacts(firmId);
  expect(stored.map((row) => row.id).sort()).toEqual([annId, cyId].sort());
  expect(stored.find((row) => row.id === cyId)).toMatchObject({
    tracking_id: "CRM-3",
    email: "cy@example.com",
  });
  expect(stored.find((row) => row.id === annId)).toMatchObject({
    id: annId,
    tracking_id: "CRM-1",
    email: "ann.lee@example.com",
    first_name: "Ann",
    last_name: "Lee",
  });
  const assignments = await sql("SELECT kind, ref_id FROM contact_assignments WHERE contact_id = ?", [annId]);
  expect(assignments).toEqual([{ kind: "client", ref_id: "C-1" }]);
  const tombstones = await sql("SELECT id, email FROM contact_tombstones WHERE firm_id = ?", [firmId]);
  expect(tombstones).toEqual([{ id: bobId, email: "bob@example.com" }]);
}

// The Node CRM sync examples print the same lines: batch, get, a first sync pass, update, assign, unassign,
// delete and a second pass that sees the changed and the deleted contact.
const NODE_SYNC_EXAMPLES = [
  { name: "grpc-js with @grpc/proto-loader", script: "examples/grpc-js/crm-sync.js" },
  { name: "connect-node with the generated code", script: "dist/examples/connect-node/crm-sync.js" },
];

describe.each(NODE_SYNC_EXAMPLES)("the $name CRM sync example", ({ script }) => {
  it("batches, gets, syncs, updates, assigns and deletes", { timeout: RUN_TIMEOUT_MS }, async () => {
    if (!existsSync(path.join(REPO_ROOT, script))) throw new Error(`${script} is missing: run npm run build`);
    const firmId = uniqueFirm("example-sync");
    const { code, stdout, stderr } = await run(process.execPath, [script], firmId);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(16);
    const ann = /^batch 0 UPSERT_RESULT_CREATED (\S+)$/.exec(lines[0] ?? "")?.[1] ?? "";
    const bob = /^batch 1 UPSERT_RESULT_CREATED (\S+)$/.exec(lines[1] ?? "")?.[1] ?? "";
    const cy = /^batch 2 UPSERT_RESULT_CREATED (\S+)$/.exec(lines[2] ?? "")?.[1] ?? "";
    expect(new Set([ann, bob, cy, ""]).size).toBe(4);
    expect(lines[3]).toMatch(/^batch 3 INVALID_ARGUMENT email: \S/);
    expect(lines[4]).toBe(`get ${ann} CRM-1 ann@example.com Ann Lee`);
    // One batch is one tick of the firm clock, so its two contacts share an update time and come in id order.
    expect(lines.slice(5, 8).sort()).toEqual(
      [
        `first pass: ${ann} ann@example.com`,
        `first pass: ${bob} bob@example.com`,
        `first pass: ${cy} cy@example.com`,
      ].sort(),
    );
    // The next pass has only what changed after the first: not Cy.
    expect(lines.slice(8)).toEqual([
      "first pass: 3 contacts, 3 pages",
      `update ${ann} email=ann.lee@example.com`,
      "assign clients=C-1,C-2 entities=E-1",
      "unassign clients=C-1 entities=-",
      `delete ${bob}`,
      `next pass: changed ${ann} ann.lee@example.com clients=C-1 entities=-`,
      `next pass: deleted ${bob}`,
      "next pass: 2 contacts, 2 pages",
    ]);
    await expectSynced(firmId, ann, bob, cy);
  });
});

describe("the buf curl and curl CRM sync example", () => {
  it("batches, gets, syncs, updates, assigns and deletes", { timeout: RUN_TIMEOUT_MS }, async () => {
    const firmId = uniqueFirm("example-sh-sync");
    const { code, stdout, stderr } = await run("bash", ["examples/shell/crm-sync.sh"], firmId);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const headings = stdout.match(/^# .*$/gm) ?? [];
    expect(headings.map((heading) => heading.replace(/ \(.*\)$/, ""))).toEqual([
      "# batch: four upserts, the fourth with a bad email",
      "# get",
      "# list, first pass",
      "# list, first pass",
      "# list, first pass",
      "# update the email with an update mask",
      "# assign",
      "# unassign",
      "# delete: an empty answer",
      "# list, next pass",
      "# list, next pass",
    ]);
    const [batch, get, first1, first2, first3, update, assign, unassign, deleted, next1, next2] = stdout
      .split(/^# .*$/m)
      .slice(1)
      .map((text) => JSON.parse(text));
    expect(batch.results).toHaveLength(4);
    for (const result of batch.results.slice(0, 3)) {
      expect(result).toMatchObject({ response: { result: "UPSERT_RESULT_CREATED" } });
    }
    expect(batch.results[3]).toMatchObject({
      error: {
        code: 3,
        details: [
          { "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: [{ field: "email" }] },
        ],
      },
    });
    const ann = batch.results[0].response.contact.id as string;
    const bob = batch.results[1].response.contact.id as string;
    const cy = batch.results[2].response.contact.id as string;
    expect(get).toEqual({
      contact: expect.objectContaining({ id: ann, trackingId: "CRM-1", email: "ann@example.com" }),
    });
    // Three pages of one contact each, each token leading to the next page; the last has none.
    for (const page of [first1, first2, first3]) expect(page.contacts).toHaveLength(1);
    expect(first1.nextPageToken).toMatch(/\S/);
    expect(first2.nextPageToken).toMatch(/\S/);
    expect(first3).not.toHaveProperty("nextPageToken");
    const firstIds = [first1, first2, first3].map((page) => page.contacts[0].id);
    expect(firstIds.sort()).toEqual([ann, bob, cy].sort());
    expect(update.contact).toMatchObject({ id: ann, email: "ann.lee@example.com", trackingId: "CRM-1" });
    expect(assign.contact).toMatchObject({
      id: ann,
      clientIds: ["C-1", "C-2"],
      investmentEntityIds: ["E-1"],
    });
    expect(unassign.contact).toMatchObject({ id: ann, clientIds: ["C-1"] });
    expect(unassign.contact).not.toHaveProperty("investmentEntityIds");
    expect(deleted).toEqual({});
    // After the first pass's largest updateTime: Ann in her latest state, then Bob's deletion; not Cy.
    expect(next1.contacts).toEqual([
      expect.objectContaining({ id: ann, email: "ann.lee@example.com", clientIds: ["C-1"] }),
    ]);
    expect(next1.contacts[0]).not.toHaveProperty("deleteTime");
    expect(next2).not.toHaveProperty("nextPageToken");
    expect(next2.contacts).toEqual([expect.objectContaining({ id: bob, deleteTime: expect.any(String) })]);
    await expectSynced(firmId, ann, bob, cy);
  });
});

describe("the grpc-js code in the README's Calling it section", () => {
  it("runs as shown and prints what its comments say", { timeout: RUN_TIMEOUT_MS }, async () => {
    const readme = await readFile(path.join(REPO_ROOT, "README.md"), "utf8");
    const calling = readme.slice(readme.indexOf("## Calling it"));
    const code = /```js\n([\s\S]*?)```/.exec(calling)?.[1];
    expect(code).toContain("@grpc/proto-loader");
    // Inside the repository (so its packages resolve) but in the ignored dist/; run from the root, as documented.
    const dir = path.join(REPO_ROOT, "dist", "readme");
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, "grpc-js.mjs");
    await writeFile(file, code ?? "");
    const firmId = uniqueFirm("readme");
    const { code: exitCode, stdout, stderr } = await run(process.execPath, [file], firmId, openApp.url);
    expect(stderr).toBe("");
    expect(exitCode).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    const id = /^UPSERT_RESULT_CREATED (\S+)$/.exec(lines[0] ?? "")?.[1];
    expect((await storedContacts(firmId)).map((row) => row.id)).toEqual([id]);
    expect(lines[1]).toMatch(
      /^INVALID_ARGUMENT google\.rpc\.BadRequest \{"fieldViolations":\[\{"field":"email",/,
    );
  });
});

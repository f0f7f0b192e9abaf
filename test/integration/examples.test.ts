import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
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
  /** The firm the example said it used. */
  readonly firm: string | undefined;
}

/**
 * Runs an example with FIRM_ID set (empty: the example picks its own) and checks that it first says which firm it
 * used; `stdout` is what it printed after that line.
 */
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
        const firmLine = /^firm (\S+)\n/.exec(stdout);
        if (firmId !== "" && firmLine?.[1] !== firmId) {
          reject(new Error(`${args.join(" ")} did not print "firm ${firmId}" first: ${stdout}`));
        }
        resolve({
          code: error ? Number(error.code) : 0,
          stdout: stdout.slice(firmLine?.[0].length ?? 0),
          stderr,
          firm: firmLine?.[1],
        });
      },
    );
  });
}

let app: TestApp;
let keysDir: string;
beforeAll(async () => {
  keysDir = await mkdtemp(path.join(tmpdir(), "contacts-examples-"));
  const keysFile = path.join(keysDir, "keys.json");
  const sha256 = createHash("sha256").update(TOKEN).digest("hex");
  await writeFile(keysFile, JSON.stringify([{ name: "examples", sha256, firms: ["*"] }]));
  app = await startTestApp({ API_KEYS_FILE: keysFile });
});
afterAll(async () => {
  await app.close();
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

describe("the grpc-js watch example", () => {
  it("lists, watches from the largest update_time, and resumes with the last token", {
    timeout: RUN_TIMEOUT_MS,
  }, async () => {
    const firmId = uniqueFirm("example");
    const { code, stdout, stderr } = await run(
      process.execPath,
      ["examples/grpc-js/watch-changes.js"],
      firmId,
    );
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^listed 1 contact\(s\), watching from \d{4}-\d\d-\d\dT/);
    expect(lines.slice(1)).toEqual([
      "CHANGE_KIND_UPDATED watch@ city=Oslo",
      "CHANGE_KIND_ASSIGNED watch@ client_ids=c1",
      "resuming",
      "CHANGE_KIND_DELETED watch@",
    ]);
    expect(await storedContacts(firmId)).toEqual([]);
  });
});

describe("examples without FIRM_ID", () => {
  it.each([
    ["grpc-js", process.execPath, "examples/grpc-js/upsert-contact.js"],
    ["connect-node", process.execPath, "dist/examples/connect-node/upsert-contact.js"],
    ["shell", "bash", "examples/shell/upsert-contact.sh"],
  ])(
    "%s: each run uses a new firm of its own, so a second run creates again",
    {
      timeout: 2 * RUN_TIMEOUT_MS,
    },
    async (_, command, script) => {
      const first = await run(command, [script], "");
      const second = await run(command, [script], "");
      for (const { code, stdout, firm } of [first, second]) {
        expect(code).toBe(0);
        expect(firm).toMatch(/^example-[0-9a-f]{8}$/);
        expect(stdout).toMatch(/UPSERT_RESULT_CREATED/);
        expect(stdout).not.toMatch(/UPSERT_RESULT_CREATED[\s\S]*UPSERT_RESULT_CREATED/);
        await expectStored(firm ?? "", (await storedContacts(firm ?? ""))[0]?.id as string);
      }
      expect(second.firm).not.toBe(first.firm);
    },
  );
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

/** What a CRM sync example printed: the dry run's previewed ids, the batch's request id, the contacts' ids. */
interface Replay {
  readonly dryRunIds: readonly string[];
  readonly requestId: string;
  readonly ann: string;
  readonly bob: string;
  readonly cy: string;
}

/**
 * What the dry run, the request id and its retry leave behind, read with SQL: the dry run's previewed ids stored
 * nowhere; one stored outcome, under the batch's request id (a dry run uses none); and each contact's history
 * written once: one creation per contact, by the batch's call, then Ann's update, assignment and unassignment
 * and Bob's deletion. A retry that wrote again would add changes (or a second outcome).
 */
async function expectReplayedOnce(
  firmId: string,
  { dryRunIds, requestId, ann, bob, cy }: Replay,
): Promise<void> {
  expect(dryRunIds).toHaveLength(3);
  expect(dryRunIds.filter((id) => [ann, bob, cy].includes(id))).toEqual([]);
  for (const table of ["contacts", "contact_tombstones", "contact_changes"]) {
    const column = table === "contact_changes" ? "contact_id" : "id";
    const rows = await sql(`SELECT ${column} FROM ${table} WHERE ${column} IN (?)`, [dryRunIds]);
    expect(rows, table).toEqual([]);
  }
  const outcomes = await sql(
    "SELECT CONVERT(request_id USING utf8mb4) AS request_id FROM request_outcomes WHERE firm_id = ?",
    [firmId],
  );
  expect(outcomes).toEqual([{ request_id: requestId }]);
  const changes = await sql<{ contact_id: string; kind: string; request_id: string | null }>(
    "SELECT contact_id, kind, request_id FROM contact_changes WHERE firm_id = ? ORDER BY change_time, seq",
    [firmId],
  );
  const history = (id: string) =>
    changes.filter((row) => row.contact_id === id).map(({ kind, request_id }) => [kind, request_id]);
  expect(history(ann)).toEqual([
    ["created", requestId],
    ["updated", null],
    ["assigned", null],
    ["unassigned", null],
  ]);
  expect(history(bob)).toEqual([
    ["created", requestId],
    ["deleted", null],
  ]);
  expect(history(cy)).toEqual([["created", requestId]]);
  expect(changes).toHaveLength(7);
}

// The Node CRM sync examples print the same lines: a dry run, the batch and its retry, get, a first sync pass,
// update, assign, unassign, delete, a second pass that sees the changed and the deleted contact, Ann's history.
const NODE_SYNC_EXAMPLES = [
  { name: "grpc-js with @grpc/proto-loader", script: "examples/grpc-js/crm-sync.js" },
  { name: "connect-node with the generated code", script: "dist/examples/connect-node/crm-sync.js" },
];

describe.each(NODE_SYNC_EXAMPLES)("the $name CRM sync example", ({ script }) => {
  it("dry-runs, batches and retries, gets, syncs, updates, assigns, deletes and reads a history", {
    timeout: RUN_TIMEOUT_MS,
  }, async () => {
    if (!existsSync(path.join(REPO_ROOT, script))) throw new Error(`${script} is missing: run npm run build`);
    const firmId = uniqueFirm("example-sync");
    const { code, stdout, stderr } = await run(process.execPath, [script], firmId);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(29);
    const created = (label: string, index: number) =>
      new RegExp(`^${label} ${index} UPSERT_RESULT_CREATED (\\S+) tracking_id,email,first_name,last_name$`);
    // The dry run: what the batch would do, with ids that are not reserved (the SQL below finds none stored).
    const dryRunIds = [0, 1, 2].map((index) => created("dry run", index).exec(lines[index] ?? "")?.[1] ?? "");
    expect(new Set([...dryRunIds, ""]).size).toBe(4);
    expect(lines[3]).toMatch(/^dry run 3 INVALID_ARGUMENT email: \S/);
    const [ann = "", bob = "", cy = ""] = [0, 1, 2].map(
      (index) => created("batch", index).exec(lines[4 + index] ?? "")?.[1] ?? "",
    );
    expect(new Set([ann, bob, cy, ""]).size).toBe(4);
    expect(lines[7]).toMatch(/^batch 3 INVALID_ARGUMENT email: \S/);
    // The retry with the same request id answers exactly what the first call did: still CREATED, same ids.
    expect(lines.slice(8, 12)).toEqual(lines.slice(4, 8).map((line) => line.replace(/^batch/, "retry")));
    expect(lines[12]).toBe("retry: the same answer as the first, nothing written twice");
    expect(lines[13]).toBe(`get ${ann} CRM-1 ann@example.com Ann Lee`);
    // One batch is one tick of the firm clock, so its two contacts share an update time and come in id order.
    expect(lines.slice(14, 17).sort()).toEqual(
      [
        `first pass: ${ann} ann@example.com`,
        `first pass: ${bob} bob@example.com`,
        `first pass: ${cy} cy@example.com`,
      ].sort(),
    );
    // The next pass has only what changed after the first: not Cy.
    expect(lines.slice(17, 25)).toEqual([
      "first pass: 3 contacts, 3 pages",
      `update ${ann} email=ann.lee@example.com`,
      "assign clients=C-1,C-2 entities=E-1",
      "unassign clients=C-1 entities=-",
      `delete ${bob}`,
      `next pass: changed ${ann} ann.lee@example.com clients=C-1 entities=-`,
      `next pass: deleted ${bob}`,
      "next pass: 2 contacts, 2 pages",
    ]);
    // Ann's history, newest first, by the API key the example sent; only the batch's call had a request id.
    const requestId = /^history CHANGE_KIND_CREATED by examples request=(nightly-\S+-batch-1) /.exec(
      lines[28] ?? "",
    )?.[1];
    expect(lines.slice(25)).toEqual([
      "history CHANGE_KIND_UNASSIGNED by examples request=(none) client_ids: C-2 -> (none), investment_entity_ids: E-1 -> (none)",
      "history CHANGE_KIND_ASSIGNED by examples request=(none) client_ids: (none) -> C-1, client_ids: (none) -> C-2, investment_entity_ids: (none) -> E-1",
      "history CHANGE_KIND_UPDATED by examples request=(none) email: ann@example.com -> ann.lee@example.com",
      `history CHANGE_KIND_CREATED by examples request=${requestId} tracking_id: (none) -> CRM-1, email: (none) -> ann@example.com, first_name: (none) -> Ann, last_name: (none) -> Lee`,
    ]);
    await expectSynced(firmId, ann, bob, cy);
    await expectReplayedOnce(firmId, { dryRunIds, requestId: requestId ?? "", ann, bob, cy });
  });
});

describe("the buf curl and curl CRM sync example", () => {
  it("dry-runs, batches and retries, gets, syncs, updates, assigns, deletes and reads a history", {
    timeout: RUN_TIMEOUT_MS,
  }, async () => {
    const firmId = uniqueFirm("example-sh-sync");
    const { code, stdout, stderr } = await run("bash", ["examples/shell/crm-sync.sh"], firmId);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const headings = stdout.match(/^# .*$/gm) ?? [];
    expect(headings.map((heading) => heading.replace(/ \(.*\)$/, ""))).toEqual([
      "# dry run: the batch with validateOnly, nothing written",
      "# batch: four upserts, the fourth with a bad email, with a request id",
      "# retry: the same batch and request id, as after a timeout",
      "# the retry's answer equals the first: nothing written twice",
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
      "# history of one contact",
    ]);
    // Each heading is followed by what the tool printed (JSON), except the comparison's, which is the line itself.
    const [
      dryRun,
      batch,
      retry,
      equal,
      get,
      first1,
      first2,
      first3,
      update,
      assign,
      unassign,
      deleted,
      ...rest
    ] = stdout
      .split(/^# .*$/m)
      .slice(1)
      .map((text) => (text.trim() === "" ? undefined : JSON.parse(text)));
    const [next1, next2, history] = rest;
    expect(equal).toBeUndefined();
    // The dry run answers what the batch does below, with ids that are not reserved (the SQL below finds none).
    expect(dryRun.results).toHaveLength(4);
    for (const result of dryRun.results.slice(0, 3)) {
      expect(result).toMatchObject({
        response: { result: "UPSERT_RESULT_CREATED", changedFields: "trackingId,email,firstName,lastName" },
      });
    }
    expect(dryRun.results[3]).toEqual(batch.results[3]);
    // The retry with the same request id answers exactly what the first call did: same ids, same times.
    expect(retry).toEqual(batch);
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
    // Ann's history, newest first, by the API key the example sent; only the batch's call had a request id.
    const requestId = history.changes[3]?.requestId as string;
    expect(requestId).toMatch(/^nightly-\S+-batch-1$/);
    expect(history).toEqual({
      changes: [
        {
          changeTime: unassign.contact.updateTime,
          contactId: ann,
          principal: "examples",
          kind: "CHANGE_KIND_UNASSIGNED",
          fields: [
            { field: "client_ids", oldValue: "C-2" },
            { field: "investment_entity_ids", oldValue: "E-1" },
          ],
        },
        {
          changeTime: assign.contact.updateTime,
          contactId: ann,
          principal: "examples",
          kind: "CHANGE_KIND_ASSIGNED",
          fields: [
            { field: "client_ids", newValue: "C-1" },
            { field: "client_ids", newValue: "C-2" },
            { field: "investment_entity_ids", newValue: "E-1" },
          ],
        },
        {
          changeTime: update.contact.updateTime,
          contactId: ann,
          principal: "examples",
          kind: "CHANGE_KIND_UPDATED",
          fields: [{ field: "email", oldValue: "ann@example.com", newValue: "ann.lee@example.com" }],
        },
        {
          changeTime: batch.results[0].response.contact.createTime,
          contactId: ann,
          principal: "examples",
          requestId,
          kind: "CHANGE_KIND_CREATED",
          fields: [
            { field: "tracking_id", newValue: "CRM-1" },
            { field: "email", newValue: "ann@example.com" },
            { field: "first_name", newValue: "Ann" },
            { field: "last_name", newValue: "Lee" },
          ],
        },
      ],
    });
    await expectSynced(firmId, ann, bob, cy);
    const dryRunIds = dryRun.results.slice(0, 3).map((result: { response: { contact: { id: string } } }) => {
      return result.response.contact.id;
    });
    await expectReplayedOnce(firmId, { dryRunIds, requestId, ann, bob, cy });
  });
});

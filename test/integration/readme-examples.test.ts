import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ContactService } from "../../gen/contacts/v1/contact_service_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { closeSqlPool, sql, uniqueFirm } from "../support/database.js";
import {
  commandBlocks,
  type DocBlock,
  matchesSample,
  RUN_PAGES,
  RUNNABLE_LANGS,
} from "../support/doc-blocks.js";
import { REPO_ROOT } from "../support/server-process.js";

// The command blocks of the README and docs/, run as they are written (bash, curl, jq, buf curl, node) against a
// real server, in page order on a new firm per page, as a reader who runs a page top to bottom would: only the
// address and the firm are swapped for this test's. Each block must exit 0 with nothing on stderr and print what
// the sample after it shows; the named blocks' answers and the stored rows are checked below.

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app.close();
  await closeSqlPool();
});

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The page's address and firm swapped for this test's, in a block or its sample. */
function localize(text: string, firmId: string): string {
  return text
    .replaceAll("http://127.0.0.1:8080", app.url)
    .replaceAll("127.0.0.1:8080", new URL(app.url).host)
    .replaceAll("acme", firmId);
}

/** Runs a block: sh with bash (-euo pipefail), js as an ES module file in the ignored dist/ (so packages resolve). */
async function runBlock(block: DocBlock, firmId: string): Promise<Ran> {
  const code = localize(block.code, firmId);
  let command = "bash";
  let args = ["-euo", "pipefail", "-c", code];
  if (block.lang === "js") {
    const dir = path.join(REPO_ROOT, "dist", "readme");
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `${block.page.replaceAll("/", "-")}-${block.line}.mjs`);
    await writeFile(file, code);
    command = process.execPath;
    args = [file, app.url];
  }
  return new Promise((resolve) => {
    execFile(command, args, { cwd: REPO_ROOT, timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

/** Every runnable block of each page, run in order once per page on that page's firm. */
const runs = new Map<string, { firmId: string; results: Promise<Map<number, Ran>> }>();
function pageRun(page: string) {
  let run = runs.get(page);
  if (!run) {
    const firmId = uniqueFirm("docs");
    const results = (async () => {
      const out = new Map<number, Ran>(); // by the line of the block
      for (const block of commandBlocks(REPO_ROOT, page).filter((b) => !b.notRun)) {
        out.set(block.line, await runBlock(block, firmId));
      }
      return out;
    })();
    run = { firmId, results };
    runs.set(page, run);
  }
  return run;
}

/** The output of the block named `name` on `page` (run with the rest of its page), and the page's firm. */
async function named(page: string, name: string): Promise<Ran & { firmId: string }> {
  const run = pageRun(page);
  const results = await run.results;
  const block = commandBlocks(REPO_ROOT, page).find((b) => b.name === name);
  const ran = block && results.get(block.line);
  if (!ran) throw new Error(`${page} has no ${name} block that runs`);
  return { ...ran, firmId: run.firmId };
}

/** The JSON objects a script printed, one per call, back to back (curl ends none with a line break). */
function answers(stdout: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let depth = 0;
  let start = 0;
  let inString = false;
  for (let i = 0; i < stdout.length; i++) {
    const c = stdout[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" && depth++ === 0) start = i;
    else if (c === "}" && --depth === 0) out.push(JSON.parse(stdout.slice(start, i + 1)));
  }
  return out;
}

// A page's blocks take minutes on a loaded machine (each buf curl compiles the schema from reflection).
const PAGE_TIMEOUT_MS = 600_000;

describe.each(RUN_PAGES)("the blocks of %s, run in order on a new firm", (page) => {
  const blocks = commandBlocks(REPO_ROOT, page).filter((block) => !block.notRun);

  it("every block runs, and prints what its sample shows", { timeout: PAGE_TIMEOUT_MS }, async () => {
    expect(blocks.length).toBeGreaterThan(0);
    const { firmId, results } = pageRun(page);
    const ran = await results;
    for (const block of blocks) {
      const where = `${page}:${block.line}`;
      expect(RUNNABLE_LANGS, `${where} is ${block.lang}`).toContain(block.lang);
      const result = ran.get(block.line);
      expect(result?.stderr, where).toBe("");
      expect(result?.code, where).toBe(0);
      if (block.sample !== undefined) {
        const printed = result?.stdout ?? "";
        expect(matchesSample(printed, localize(block.sample, firmId)), `${where} printed:\n${printed}`).toBe(
          true,
        );
      }
    }
  });
});

describe("what the README's blocks leave", () => {
  it("curl creates CRM-1, buf curl sets its phone, grpc-js creates CRM-2", {
    timeout: PAGE_TIMEOUT_MS,
  }, async () => {
    const { firmId, results } = pageRun("README.md");
    await results;
    expect(
      await sql(
        "SELECT tracking_id, first_name, phone FROM contacts WHERE firm_id = ? ORDER BY tracking_id",
        [firmId],
      ),
    ).toEqual([
      { tracking_id: "CRM-1", first_name: "Ann", phone: "+1 555 0100" },
      { tracking_id: "CRM-2", first_name: "Bob", phone: null },
    ]);
  });
});

describe("the named blocks of docs/", () => {
  it("the curl block runs every RPC over Connect JSON", { timeout: PAGE_TIMEOUT_MS }, async () => {
    const result = await named("docs/api.md", "api-curl");
    const { firmId } = result;
    const [got, updated, assigned, unassigned, listed, deleted, history, batch] = answers(result.stdout);
    expect(got).toMatchObject({ contact: { firmId, trackingId: "CRM-1", email: "ann@example.com" } });
    expect(updated).toMatchObject({ contact: { email: "ann.lee@example.com", city: "Oslo" } });
    expect(assigned).toMatchObject({
      contact: { clientIds: ["client-3", "client-7"], investmentEntityIds: ["fund-1"] },
    });
    expect(unassigned).toMatchObject({ contact: { clientIds: ["client-3"] } });
    expect(listed).toMatchObject({ contacts: [{ email: "ann.lee@example.com" }] });
    expect(deleted).toEqual({});
    expect(history).toMatchObject({
      changes: [
        { kind: "CHANGE_KIND_DELETED", principal: "anonymous" },
        { kind: "CHANGE_KIND_UNASSIGNED", fields: [{ field: "client_ids", oldValue: "client-7" }] },
        { kind: "CHANGE_KIND_ASSIGNED" },
        {
          kind: "CHANGE_KIND_UPDATED",
          fields: [
            { field: "email", oldValue: "ann@example.com", newValue: "ann.lee@example.com" },
            { field: "city", newValue: "Oslo" },
          ],
        },
        { kind: "CHANGE_KIND_CREATED" },
      ],
    });
    expect(batch).toMatchObject({
      results: [
        { response: { result: "UPSERT_RESULT_CREATED" } },
        { response: { result: "UPSERT_RESULT_UPDATED", contact: { city: "Rome" } } },
      ],
    });
  });

  it("the buf curl block runs every RPC over gRPC", { timeout: PAGE_TIMEOUT_MS }, async () => {
    const result = await named("docs/api.md", "api-buf");
    const [got, updated, assigned, unassigned, listed, deleted, history, batch] = answers(result.stdout);
    expect(got).toMatchObject({ contact: { firmId: result.firmId, trackingId: "CRM-2" } });
    expect(updated).toMatchObject({ contact: { title: "CFO" } });
    expect(assigned).toMatchObject({ contact: { clientIds: ["client-9"] } });
    expect(unassigned).toMatchObject({ contact: { title: "CFO" } });
    expect(unassigned).not.toHaveProperty("contact.clientIds");
    // After the curl block above: its batch's CRM-3, then CRM-2, in update order.
    expect(listed).toMatchObject({
      contacts: [{ trackingId: "CRM-3" }, { trackingId: "CRM-2", title: "CFO" }],
    });
    expect(deleted).toEqual({});
    expect(
      (history as { changes: { kind: string }[] }).changes.map((c) => c.kind.replace("CHANGE_KIND_", "")),
    ).toEqual(["DELETED", "UNASSIGNED", "ASSIGNED", "UPDATED", "CREATED"]);
    expect(batch).toMatchObject({
      results: [
        { response: { result: "UPSERT_RESULT_CREATED" } },
        { error: { code: 3, details: [{ "@type": "type.googleapis.com/google.rpc.BadRequest" }] } },
      ],
    });
  });

  it("the REST curl block: created, then updated, then 400 naming email", {
    timeout: PAGE_TIMEOUT_MS,
  }, async () => {
    const result = await named("docs/api.md", "rest-curl");
    const [created, updated, refused, ...rest] = answers(result.stdout);
    expect(rest).toEqual([]);
    expect(created).toMatchObject({
      contact: { firmId: result.firmId, email: "ida@example.com" },
      result: "created",
    });
    expect(updated).toMatchObject({ contact: { title: "CFO" }, result: "updated", matchedBy: "email" });
    expect(refused).toMatchObject({
      error: { code: 400, status: "INVALID_ARGUMENT", details: [{ fieldViolations: [{ field: "email" }] }] },
    });
    expect(result.stdout.trimEnd().endsWith("HTTP 400")).toBe(true);
  });

  it("docs/api.md's blocks leave what they say, in order", { timeout: PAGE_TIMEOUT_MS }, async () => {
    const { firmId, results } = pageRun("docs/api.md");
    await results;
    expect(
      await sql("SELECT tracking_id, email, city, title FROM contacts WHERE firm_id = ? ORDER BY email", [
        firmId,
      ]),
    ).toEqual([
      // The batch section's CRM-1 (the curl block's was deleted), moved to Bergen by the request id section.
      { tracking_id: "CRM-1", email: "ann@example.com", city: "Bergen", title: null },
      { tracking_id: "CRM-2", email: "bob@example.com", city: null, title: null },
      { tracking_id: "CRM-3", email: "cy@example.com", city: "Rome", title: null },
      { tracking_id: "CRM-4", email: "di@example.com", city: null, title: null },
      { tracking_id: null, email: "ida@example.com", city: null, title: "CFO" },
    ]);
    expect(
      await sql(
        "SELECT tracking_id, email, city, title FROM contact_tombstones WHERE firm_id = ? ORDER BY email",
        [firmId],
      ),
    ).toEqual([
      { tracking_id: "CRM-1", email: "ann.lee@example.com", city: "Oslo", title: null },
      { tracking_id: "CRM-2", email: "bo@example.com", city: null, title: "CFO" },
    ]);
  });

  it("the sync block previews a batch, replays it by request id and reads the history", {
    timeout: PAGE_TIMEOUT_MS,
  }, async () => {
    const result = await named("docs/sync.md", "sync-curl");
    const [preview, first, retry, history, ...rest] = answers(result.stdout);
    expect(rest).toEqual([]);
    expect(preview).toMatchObject({
      results: [
        { response: { result: "UPSERT_RESULT_CREATED" } },
        {
          response: {
            result: "UPSERT_RESULT_UPDATED",
            matchedBy: "MATCH_KEY_TRACKING_ID",
            changedFields: "city",
          },
        },
        { error: { code: 6, details: [{ reason: "EMAIL_TAKEN" }] } },
      ],
    });
    // The retry is the first answer again, and the batch wrote once.
    expect(first).toMatchObject({ results: [{ response: { result: "UPSERT_RESULT_CREATED" } }, {}, {}] });
    expect(retry).toEqual(first);
    const rows = await sql<{ n: number }>("SELECT COUNT(*) AS n FROM contacts WHERE firm_id = ?", [
      result.firmId,
    ]);
    expect(Number(rows[0]?.n)).toBe(1);
    const requestId = "nightly-2026-11-29-batch-1";
    expect(history).toMatchObject({
      changes: [
        {
          kind: "CHANGE_KIND_UPDATED",
          principal: "anonymous",
          requestId,
          fields: [{ field: "city", newValue: "Oslo" }],
        },
        { kind: "CHANGE_KIND_CREATED", principal: "anonymous", requestId },
      ],
    });
  });

  it("the operating block lists, describes every message, upserts, checks health and the probes", {
    timeout: PAGE_TIMEOUT_MS,
  }, async () => {
    const result = await named("docs/operating.md", "ops-buf");
    const lines = result.stdout.split("\n");
    expect(lines).toContain("contacts.v1.ContactService");
    expect(lines).toContain("contacts.v1.ContactService/UpsertContact");
    // One line per message of the file, those without fields (DeleteContactResponse) included.
    const described = lines.filter((line) => line.startsWith('{"message":')).map((line) => JSON.parse(line));
    const messages = (ContactService.file.messages as { name: string }[]).map((message) => message.name);
    expect(described.map((message: { message: string }) => message.message)).toEqual(messages);
    expect(described).toContainEqual({ message: "DeleteContactResponse", fields: [] });
    expect(result.stdout).toContain('"status": "SERVING"');
    expect(await sql("SELECT tracking_id, city FROM contacts WHERE firm_id = ?", [result.firmId])).toEqual([
      { tracking_id: "CRM-1", city: "Lyon" },
    ]);
  });
});

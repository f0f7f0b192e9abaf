import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ContactService } from "../../gen/contacts/v1/contact_service_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { closeSqlPool, sql, uniqueFirm } from "../support/database.js";
import { REPO_ROOT } from "../support/server-process.js";

// The command blocks of docs/ (api.md, sync.md, operating.md), run as they are written (bash, curl, jq, buf curl)
// against a real server: only the address and the firm are swapped for this test's.

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app.close();
  await closeSqlPool();
});

/** The sh block between `<!-- name:start -->` and `<!-- name:end -->` in a page of the repository. */
async function docBlock(page: string, name: string): Promise<string> {
  const text = await readFile(path.join(REPO_ROOT, page), "utf8");
  const match = new RegExp(
    `<!-- ${name}:start -->\\n\`\`\`sh\\n([\\s\\S]*?)\`\`\`\\n<!-- ${name}:end -->`,
  ).exec(text);
  if (!match?.[1]) throw new Error(`${page} has no ${name} block`);
  return match[1];
}

function run(script: string, firmId: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const local = script.replaceAll("http://127.0.0.1:8080", app.url).replaceAll("acme", firmId);
  return new Promise((resolve) => {
    execFile(
      "bash",
      ["-euo", "pipefail", "-c", local],
      { cwd: REPO_ROOT, timeout: 120_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr }),
    );
  });
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

describe("the command blocks of docs/", () => {
  it("the curl block runs every RPC over Connect JSON", { timeout: 60_000 }, async () => {
    const firmId = uniqueFirm("readme");
    const result = await run(await docBlock("docs/api.md", "api-curl"), firmId);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
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
    expect(await sql("SELECT tracking_id, city FROM contacts WHERE firm_id = ?", [firmId])).toEqual([
      { tracking_id: "CRM-3", city: "Rome" },
    ]);
    expect(await sql("SELECT email, city FROM contact_tombstones WHERE firm_id = ?", [firmId])).toEqual([
      { email: "ann.lee@example.com", city: "Oslo" },
    ]);
  });

  it("the REST curl block: created, then updated, then 400 naming email", { timeout: 60_000 }, async () => {
    const firmId = uniqueFirm("readme-rest");
    const result = await run(await docBlock("docs/api.md", "rest-curl"), firmId);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const [created, updated, refused, ...rest] = answers(result.stdout);
    expect(rest).toEqual([]);
    expect(created).toMatchObject({ contact: { firmId, email: "ann@example.com" }, result: "created" });
    expect(updated).toMatchObject({ contact: { title: "CFO" }, result: "updated", matchedBy: "email" });
    expect(refused).toMatchObject({
      error: { code: 400, status: "INVALID_ARGUMENT", details: [{ fieldViolations: [{ field: "email" }] }] },
    });
    expect(result.stdout.trimEnd().endsWith("HTTP 400")).toBe(true);
    expect(await sql("SELECT email, title FROM contacts WHERE firm_id = ?", [firmId])).toEqual([
      { email: "ann@example.com", title: "CFO" },
    ]);
  });

  it("the sync block previews a batch, replays it by request id and reads the history", {
    timeout: 60_000,
  }, async () => {
    const firmId = uniqueFirm("readme-sync");
    const result = await run(await docBlock("docs/sync.md", "sync-curl"), firmId);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
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
    const rows = await sql<{ n: number }>("SELECT COUNT(*) AS n FROM contacts WHERE firm_id = ?", [firmId]);
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
    timeout: 180_000,
  }, async () => {
    const firmId = uniqueFirm("readme-ops");
    const result = await run(await docBlock("docs/operating.md", "ops-buf"), firmId);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const lines = result.stdout.split("\n");
    expect(lines).toContain("contacts.v1.ContactService");
    expect(lines).toContain("contacts.v1.ContactService/UpsertContact");
    // One line per message of the file, those without fields (DeleteContactResponse) included.
    const described = lines.filter((line) => line.startsWith('{"message":')).map((line) => JSON.parse(line));
    const messages = (ContactService.file.messages as { name: string }[]).map((message) => message.name);
    expect(described.map((message: { message: string }) => message.message)).toEqual(messages);
    expect(described).toContainEqual({ message: "DeleteContactResponse", fields: [] });
    expect(result.stdout).toContain('"status": "SERVING"');
    expect(await sql("SELECT tracking_id, city FROM contacts WHERE firm_id = ?", [firmId])).toEqual([
      { tracking_id: "CRM-1", city: "Lyon" },
    ]);
  });

  it("the buf curl block runs every RPC over gRPC", { timeout: 180_000 }, async () => {
    const firmId = uniqueFirm("readme-buf");
    const result = await run(await docBlock("docs/api.md", "api-buf"), firmId);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const [got, updated, assigned, unassigned, listed, deleted, history, batch] = answers(result.stdout);
    expect(got).toMatchObject({ contact: { firmId, trackingId: "CRM-2" } });
    expect(updated).toMatchObject({ contact: { title: "CFO" } });
    expect(assigned).toMatchObject({ contact: { clientIds: ["client-9"] } });
    expect(unassigned).toMatchObject({ contact: { title: "CFO" } });
    expect(unassigned).not.toHaveProperty("contact.clientIds");
    expect(listed).toMatchObject({ contacts: [{ title: "CFO" }] });
    expect(deleted).toEqual({});
    expect(await sql("SELECT title FROM contact_tombstones WHERE firm_id = ?", [firmId])).toEqual([
      { title: "CFO" },
    ]);
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
});

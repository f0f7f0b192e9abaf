import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.js";
import { closeSqlPool, storedContacts, uniqueFirm } from "../support/database.js";

// BatchUpsertContacts from the real `buf curl`, as an operator types it: the schema read through the server's
// reflection (which also serves the error details, so an item's google.rpc.Status prints decoded).

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BUF = path.join(REPO_ROOT, "node_modules", ".bin", "buf");
const BUF_TIMEOUT_MS = 60_000;

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app.close();
  await closeSqlPool();
});

function bufCurl(protocolArgs: readonly string[], body: unknown) {
  const args = [
    "curl",
    ...protocolArgs,
    "--connect-timeout",
    "10",
    "-d",
    JSON.stringify(body),
    `${app.url}/contacts.v1.ContactService/BatchUpsertContacts`,
  ];
  return new Promise<{ exitCode: number; stdout: string; stderr: string }>((resolve, reject) => {
    execFile(BUF, args, { cwd: REPO_ROOT, timeout: BUF_TIMEOUT_MS }, (error, stdout, stderr) => {
      if (error?.killed) return reject(new Error(`buf curl timed out: ${stderr}`));
      resolve({ exitCode: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

describe.each([
  { name: "grpc", args: ["--protocol", "grpc", "--http2-prior-knowledge"] },
  { name: "connect", args: ["--protocol", "connect"] },
])("buf curl --protocol $name", ({ name, args }) => {
  it("sends a batch and prints one result per item, failures as google.rpc.Status", {
    timeout: 2 * BUF_TIMEOUT_MS,
  }, async () => {
    const firmId = uniqueFirm(`buf-batch-${name}`);
    const run = await bufCurl(args, {
      firmId,
      requests: [
        { trackingId: "crm-1", email: "ann@example.com", firstName: "Ann", lastName: "Lee" },
        { trackingId: "crm-1", city: "Oslo" },
        { email: "nope" },
      ],
    });
    expect(run.stderr).toBe("");
    expect(run.exitCode).toBe(0);
    const { results } = JSON.parse(run.stdout) as { results: Record<string, Record<string, unknown>>[] };
    expect(results).toHaveLength(3);
    expect(results[0]?.response).toMatchObject({ result: "UPSERT_RESULT_CREATED" });
    expect(results[1]?.response).toMatchObject({
      result: "UPSERT_RESULT_UPDATED",
      matchedBy: "MATCH_KEY_TRACKING_ID",
      contact: { city: "Oslo" },
    });
    expect(results[2]?.error).toMatchObject({
      code: 3,
      message: expect.stringMatching(/^email: /),
      details: [
        { "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: [{ field: "email" }] },
      ],
    });
    const rows = await storedContacts(firmId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ tracking_id: "crm-1", city: "Oslo" });
  });
});

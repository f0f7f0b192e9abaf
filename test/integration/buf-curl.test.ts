import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.js";
import { closeSqlPool, storedContacts, uniqueFirm } from "../support/database.js";

// The real `buf curl` binary (from @bufbuild/buf) against the real server, with the schema compiled from the
// repository's own buf module: what an operator would type by hand.

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BUF = path.join(REPO_ROOT, "node_modules", ".bin", "buf");
const PROCEDURE = "contacts.v1.ContactService/UpsertContact";
// The first call compiles the schema, which can take a few seconds on a cold cache.
const BUF_TIMEOUT_MS = 60_000;

interface BufCurlRun {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `buf curl` with `--schema proto` from the repository root; never hangs past BUF_TIMEOUT_MS. */
function bufCurl(protocolArgs: readonly string[], body: unknown): Promise<BufCurlRun> {
  const args = [
    "curl",
    // The workspace (buf.yaml): our module and proto-deps/, which holds the google.rpc types the contract imports.
    "--schema",
    ".",
    ...protocolArgs,
    "--connect-timeout",
    "10",
    "-d",
    JSON.stringify(body),
    `${app.url}/${PROCEDURE}`,
  ];
  return new Promise((resolve, reject) => {
    execFile(BUF, args, { cwd: REPO_ROOT, timeout: BUF_TIMEOUT_MS }, (error, stdout, stderr) => {
      if (error?.killed) {
        reject(new Error(`buf curl timed out or was killed: ${stderr}`));
        return;
      }
      const exitCode = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      resolve({ exitCode, stdout, stderr });
    });
  });
}

const PROTOCOLS = [
  { name: "grpc", args: ["--protocol", "grpc", "--http2-prior-knowledge"] },
  { name: "grpcweb", args: ["--protocol", "grpcweb"] },
  { name: "connect", args: ["--protocol", "connect"] },
  { name: "connect-h2c", args: ["--protocol", "connect", "--http2-prior-knowledge"] },
];

let app: TestApp;
beforeAll(async () => {
  // proto-deps/ is generated (ignored by git): make sure it is there, as `npm run lint` and `generate` do.
  await new Promise<void>((resolve, reject) =>
    execFile(process.execPath, ["scripts/proto-deps.mjs"], { cwd: REPO_ROOT }, (error) =>
      error ? reject(error) : resolve(),
    ),
  );
  app = await startTestApp();
});
afterAll(async () => {
  await app.close();
  await closeSqlPool();
});

describe.each(PROTOCOLS)("buf curl --protocol $name", ({ name, args }) => {
  it("creates, then updates, a contact", { timeout: 3 * BUF_TIMEOUT_MS }, async () => {
    const firmId = uniqueFirm(`buf-${name}`);
    const request = {
      firmId,
      trackingId: "crm-1",
      email: "Ann@Example.com",
      firstName: "Ann",
      lastName: "Lee",
      zipCode: "0150",
    };
    const created = await bufCurl(args, request);
    expect(created.stderr).toBe("");
    expect(created.exitCode).toBe(0);
    const first = JSON.parse(created.stdout) as { result: string; contact: Record<string, unknown> };
    expect(first.result).toBe("UPSERT_RESULT_CREATED");
    expect(first.contact).toMatchObject(request);

    const updated = await bufCurl(args, { firmId, trackingId: "crm-1", city: "Oslo" });
    expect(updated.exitCode).toBe(0);
    const second = JSON.parse(updated.stdout) as { result: string; contact: Record<string, unknown> };
    expect(second.result).toBe("UPSERT_RESULT_UPDATED");
    expect(second.contact).toMatchObject({ ...request, id: first.contact.id, city: "Oslo" });

    const rows = await storedContacts(firmId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: first.contact.id, tracking_id: "crm-1", city: "Oslo" });
  });

  it("an invalid request exits non-zero and prints invalid_argument naming the field", {
    timeout: 2 * BUF_TIMEOUT_MS,
  }, async () => {
    const firmId = uniqueFirm(`buf-${name}`);
    const run = await bufCurl(args, { firmId, email: "nope", firstName: "Ann", lastName: "Lee" });
    expect(run.exitCode).not.toBe(0);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("invalid_argument");
    expect(run.stderr).toContain("email");
    expect(run.stderr).toContain("google.rpc.BadRequest");
    expect(await storedContacts(firmId)).toEqual([]);
  });

  it("a taken email under a new trackingId exits non-zero and prints already_exists", {
    timeout: 3 * BUF_TIMEOUT_MS,
  }, async () => {
    const firmId = uniqueFirm(`buf-${name}`);
    const first = await bufCurl(args, {
      firmId,
      email: "ann@example.com",
      firstName: "Ann",
      lastName: "Lee",
    });
    expect(first.exitCode).toBe(0);
    const run = await bufCurl(args, {
      firmId,
      trackingId: "crm-9",
      email: "ANN@example.com",
      firstName: "X",
      lastName: "Y",
    });
    expect(run.exitCode).not.toBe(0);
    expect(run.stderr).toContain("already_exists");
    expect(await storedContacts(firmId)).toHaveLength(1);
  });
});

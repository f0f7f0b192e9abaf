import { execFile, spawn } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.js";
import { grpcJsClient } from "../support/clients.js";
import { uniqueFirm } from "../support/database.js";
import { REPO_ROOT } from "../support/server-process.js";

// WatchContactChanges from `buf curl`, the operator's client: it prints each message of the stream as JSON.

const BUF = path.join(REPO_ROOT, "node_modules", ".bin", "buf");
let app: TestApp;
beforeAll(async () => {
  await new Promise<void>((resolve, reject) =>
    execFile(process.execPath, ["scripts/proto-deps.mjs"], { cwd: REPO_ROOT }, (error) =>
      error ? reject(error) : resolve(),
    ),
  );
  app = await startTestApp({ FEED_HEARTBEAT_MS: "500" });
});
afterAll(async () => {
  await app.close();
});

describe.each([
  { name: "grpc", args: ["--protocol", "grpc", "--http2-prior-knowledge"] },
  { name: "connect", args: ["--protocol", "connect"] },
])("buf curl --protocol $name", ({ name, args }) => {
  it("streams the firm's changes from start_time, then heartbeats", { timeout: 90_000 }, async () => {
    const firmId = uniqueFirm(`bufwatch-${name}`);
    const client = grpcJsClient(app.url);
    const { contact } = await client.upsert({
      firmId,
      email: "a@example.com",
      firstName: "A",
      lastName: "B",
    });
    await client.update({
      firmId,
      contact: { id: contact?.id, city: "Oslo" },
      updateMask: { paths: ["city"] },
    });
    client.close();
    const child = spawn(
      BUF,
      [
        "curl",
        "--schema",
        ".",
        ...args,
        "-d",
        JSON.stringify({ firmId, startTime: "1970-01-01T00:00:00Z" }),
        `${app.url}/contacts.v1.ContactService/WatchContactChanges`,
      ],
      { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // Two changes, then at least one heartbeat (an object with only a resumeToken).
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no stream in time: ${stdout}${stderr}`)), 80_000);
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        if (/"CHANGE_KIND_UPDATED"[\s\S]*\}\s*\{\s*"resumeToken"/.test(stdout)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill();
    expect(stderr).toBe("");
    expect(stdout).toContain('"CHANGE_KIND_CREATED"');
    expect(stdout).toContain(`"contactId": "${contact?.id}"`);
  });
});

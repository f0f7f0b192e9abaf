import { execFile } from "node:child_process";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/server-process.js";

/** Runs the built entry point as `npm start` does and returns how it ended. */
function start(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["dist/src/main.js"],
      { cwd: REPO_ROOT, timeout: 30_000, env: { ...process.env, LOG_LEVEL: "info", PORT: "0", ...env } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
    );
  });
}

describe("a fatal start-up error", () => {
  it("is one readable line that names the cause once", async () => {
    // A port nothing listens on: take one, then free it.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const { code, stdout, stderr } = await start({
      DATABASE_URL: `mysql://root@127.0.0.1:${port}/contacts`,
      DB_CONNECT_TIMEOUT_MS: "2000",
    });
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toMatch(
      /^contacts: cannot start: cannot connect to the database at 127\.0\.0\.1:\d+\/contacts: .+\n$/,
    );
    expect(stderr.match(/ECONNREFUSED/g)).toHaveLength(1);
  });
});

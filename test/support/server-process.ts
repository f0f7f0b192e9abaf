import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { TEST_DATABASE_URL } from "./database.js";

/** The repository root, found from this file rather than from the current directory. */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A server started as its own process from the built entry point, exactly as `npm start` runs it. */
export interface ServerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything the process printed, for assertions on logs. */
  readonly output: () => string;
  /** Every uncaught exception or unhandled rejection the process reported, whole lines, never trimmed. */
  readonly defects: () => readonly string[];
  /** Sends a signal and waits for the exit code; rejects if the process reported a defect (see `defects`). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Spawns `node dist/src/main.js` on a random port and resolves once it logs that it listens; with a
 * `descriptorLimit`, under that limit on open files (`ulimit -n`, through sh, which execs node; the hard limit
 * too, since node raises its soft limit to the hard one at start).
 */
export async function spawnServer(
  env: Record<string, string> = {},
  { descriptorLimit }: { descriptorLimit?: number } = {},
): Promise<ServerProcess> {
  const [command, args] =
    descriptorLimit === undefined
      ? [process.execPath, ["dist/src/main.js"]]
      : [
          "/bin/sh",
          ["-c", `ulimit -n ${descriptorLimit} && exec "$0" "$@"`, process.execPath, "dist/src/main.js"],
        ];
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: "0", DATABASE_URL: TEST_DATABASE_URL, LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  // A test that fails before stopping its server must not leave the process behind.
  const reap = () => child.kill("SIGKILL");
  process.once("exit", reap);
  child.once("exit", () => process.off("exit", reap));
  let output = "";
  // A defect fails the test that started the server, however much output follows it: kept apart from `output`,
  // which is trimmed. main.ts logs one as a pino `fatal` line (level 60); Node's own report, if it ever gets that
  // far, ends with the Node.js version.
  const defects: string[] = [];
  let partial = "";
  const scan = (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (
        /"level":60\b|^Node\.js v\d|triggerUncaughtException|UnhandledPromiseRejection|Assertion .* failed/.test(
          line,
        )
      ) {
        defects.push(line);
      }
    }
  };
  child.stdout.on("data", scan);
  child.stderr.on("data", scan);
  // A native abort (an assertion in nghttp2, say) logs nothing of ours: a signal this helper did not send is one.
  let sent: NodeJS.Signals | undefined;
  child.once("exit", (_code, signal) => {
    if (signal && signal !== sent) defects.push(`the server died of ${signal}`);
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 20_000);
    const onData = (chunk: Buffer) => {
      // Keep the last 256 KiB or so, whole lines only: enough for assertions on recent lines, bounded for long soaks.
      // A cut in the middle of a line would leave half a JSON log line that a test then fails to parse.
      output += chunk.toString();
      if (output.length > 262_144) {
        const cut = output.indexOf("\n", output.length - 262_144);
        output = output.slice(cut === -1 ? -262_144 : cut + 1);
      }
      const match = /"url":"(http:\/\/[^"]+)".*"msg":"listening"/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${output}`));
    });
  });
  return {
    url,
    child,
    output: () => output,
    defects: () => defects,
    async stop(signal = "SIGTERM") {
      let code = child.exitCode;
      if (code === null && child.signalCode === null) {
        sent = signal;
        child.kill(signal);
        [code] = (await once(child, "exit")) as [number | null];
      }
      if (defects.length > 0) {
        throw new Error(
          `the server reported ${defects.length} defect(s) (uncaught exception, native abort):\n${defects.join("\n")}`,
        );
      }
      return code;
    },
  };
}

import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { REPO_ROOT } from "./server-process.js";

/** The nginx configuration docs/operating.md shows, with {{NAME}} placeholders. */
export const NGINX_TEMPLATE = join(REPO_ROOT, "deploy/nginx.conf.template");

function findNginx(): string | undefined {
  // Debian installs nginx in /usr/sbin, which a non-root PATH may lack.
  for (const dir of [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin"]) {
    if (dir === "") continue;
    try {
      accessSync(join(dir, "nginx"), constants.X_OK);
      return join(dir, "nginx");
    } catch {
      // not here
    }
  }
  return undefined;
}

const NGINX = findNginx();

/** Why nginx cannot be run here, or undefined when it can. */
export const NGINX_MISSING: string | undefined = NGINX
  ? undefined
  : "needs nginx on the PATH (Debian: apt-get install nginx-light; .ci/run installs it)";

/** nginx, unprivileged, in a temporary prefix, proxying to the given instances. */
export interface RunningNginx {
  /** h2c, for gRPC clients. */
  readonly grpcUrl: string;
  /** HTTP/1.1, for Connect and gRPC-Web clients. */
  readonly httpUrl: string;
  /** What nginx logged (warnings and errors), for a failing test's message. */
  errorLog(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Fills NGINX_TEMPLATE with a temporary prefix, two free ports and the instances, and runs nginx on it.
 * `directives` replaces the value of every occurrence of a directive (e.g. short read timeouts, so that a test
 * can outlast them in seconds); each must occur in the template.
 */
export async function startNginx(
  instances: readonly string[],
  directives: Readonly<Record<string, string>> = {},
): Promise<RunningNginx> {
  if (!NGINX) throw new Error(NGINX_MISSING);
  const prefix = await mkdtemp(join(tmpdir(), "contacts-nginx-"));
  // Started as root, nginx's workers run as an unprivileged user, which must reach the temp folders in the prefix
  // (a large request body is buffered to client_body/ before it is sent on).
  await chmod(prefix, 0o755);
  await mkdir(join(prefix, "logs")); // nginx checks for its default error log before reading the config
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const values: Record<string, string> = {
    PREFIX: prefix,
    GRPC_LISTEN: `127.0.0.1:${grpcPort}`,
    HTTP_LISTEN: `127.0.0.1:${httpPort}`,
    ...Object.fromEntries(instances.map((instance, i) => [`INSTANCE_${i + 1}`, instance])),
  };
  const template = await readFile(NGINX_TEMPLATE, "utf8");
  const config = template.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined)
      throw new Error(`${NGINX_TEMPLATE} has {{${name}}}, which the test does not fill`);
    return value;
  });
  await writeFile(join(prefix, "nginx.conf"), withDirectives(config, directives));
  const child: ChildProcess = spawn(NGINX, ["-c", join(prefix, "nginx.conf"), "-p", prefix], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const reap = () => child.kill("SIGKILL");
  process.once("exit", reap);
  const errorLog = () => readFile(join(prefix, "error.log"), "utf8").catch(() => "");
  for (const until = Date.now() + 10_000; !(await accepts(grpcPort)) || !(await accepts(httpPort)); ) {
    if (child.exitCode !== null || Date.now() > until) {
      child.kill("SIGKILL");
      throw new Error(`nginx did not start: ${stderr}${await errorLog()}`);
    }
    await sleep(50);
  }
  return {
    grpcUrl: `http://127.0.0.1:${grpcPort}`,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    errorLog,
    async stop() {
      process.off("exit", reap);
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGQUIT"); // graceful
        await Promise.race([exited, sleep(5_000).then(() => child.kill("SIGKILL"))]);
      }
      await rm(prefix, { recursive: true, force: true });
    },
  };
}

/** The configuration with every occurrence of each directive given its new value. */
function withDirectives(config: string, directives: Readonly<Record<string, string>>): string {
  let result = config;
  for (const [name, value] of Object.entries(directives)) {
    const pattern = new RegExp(`^(\\s*${name}\\s+)[^;]+;`, "gm");
    if (!pattern.test(result)) throw new Error(`${NGINX_TEMPLATE} has no ${name} directive to replace`);
    result = result.replace(pattern, `$1${value};`);
  }
  return result;
}

/** A port free on the loopback interface now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { accessSync, constants } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";

/** A MariaDB server of a test's own, in a temporary directory, that the test may stop and start at will. */
export interface PrivateMariaDb {
  /** mysql://root@127.0.0.1:PORT/contacts */
  readonly url: string;
  /** Starts the server (again) on the same port and data directory; resolves when it accepts connections. */
  start(): Promise<void>;
  /** Kills the server at once, as a crash or a lost host would. */
  kill(): Promise<void>;
  /** Kills the server and deletes its data directory. */
  destroy(): Promise<void>;
}

const run = promisify(execFile);

// Debian installs mariadbd in /usr/sbin, which a non-root PATH may lack.
const SEARCH_PATH = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin"];
const BINARIES = ["mariadbd", "mariadb-install-db"] as const;

function findBinary(name: string): string | undefined {
  for (const dir of SEARCH_PATH) {
    if (dir === "") continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Why a private MariaDB cannot be started here (the binaries it needs are not installed), or undefined when it
 * can. Tests that need one skip with this reason, so the suite runs against any server TEST_DATABASE_URL names.
 */
export const PRIVATE_MARIADB_MISSING: string | undefined = (() => {
  const missing = BINARIES.filter((name) => findBinary(name) === undefined);
  return missing.length === 0
    ? undefined
    : `needs ${missing.join(" and ")} on the PATH to run a private MariaDB (Debian: apt-get install mariadb-server)`;
})();

/** Prints why a test file is skipped, once, so a skip is never silent. */
export function reportSkip(file: string, reason: string | undefined): void {
  if (reason !== undefined) console.warn(`skipped ${file}: ${reason}`);
}

/**
 * Initialises a data directory with mariadb-install-db and starts mariadbd on a free loopback port, with any
 * extra server options a test needs (an sql_mode, say).
 */
export async function startPrivateMariaDb(serverArgs: readonly string[] = []): Promise<PrivateMariaDb> {
  const dir = await mkdtemp(join(tmpdir(), "contacts-private-db-"));
  const port = await freePort();
  if (PRIVATE_MARIADB_MISSING !== undefined) throw new Error(PRIVATE_MARIADB_MISSING);
  await run(
    findBinary("mariadb-install-db") as string,
    [
      "--no-defaults",
      `--datadir=${dir}/data`,
      "--user=root",
      "--auth-root-authentication-method=normal",
      "--skip-test-db",
    ],
    { timeout: 60_000 },
  );
  let child: ChildProcess | undefined;
  const db: PrivateMariaDb = {
    url: `mysql://root@127.0.0.1:${port}/contacts`,
    async start() {
      child = spawn(
        findBinary("mariadbd") as string,
        [
          "--no-defaults",
          `--datadir=${dir}/data`,
          `--socket=${dir}/mariadb.sock`,
          `--port=${port}`,
          "--bind-address=127.0.0.1",
          "--user=root",
          `--log-error=${dir}/error.log`,
          "--innodb-buffer-pool-size=32M",
          "--skip-name-resolve",
          ...serverArgs,
        ],
        { stdio: "ignore" },
      );
      const deadline = Date.now() + 30_000;
      while (!(await accepts(port))) {
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`private MariaDB did not start (see ${dir}/error.log)`);
        await sleep(100);
      }
    },
    async kill() {
      if (!child || child.exitCode !== null) return;
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await exited;
    },
    async destroy() {
      await db.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await db.start();
  return db;
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

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  server.close();
  return port;
}

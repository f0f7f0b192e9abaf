import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

/**
 * Initialises a data directory with mariadb-install-db and starts mariadbd on a free loopback port, with any
 * extra server options a test needs (an sql_mode, say).
 */
export async function startPrivateMariaDb(serverArgs: readonly string[] = []): Promise<PrivateMariaDb> {
  const dir = await mkdtemp(join(tmpdir(), "contacts-private-db-"));
  const port = await freePort();
  await run(
    "mariadb-install-db",
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
        "mariadbd",
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

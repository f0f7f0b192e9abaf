import { type ChildProcess, execFile, spawn } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { createConnection } from "mysql2/promise";
import { REPO_ROOT } from "./server-process.js";

// Three Galera nodes and haproxy on loopback ports of their own, from the files in deploy/galera/. The ports are
// fixed (GALERA_BASE_PORT, default 4306: SQL on 4306-4308, group communication on 4567, 4577, 4587 with IST and
// SST on the next two ports each, haproxy on 4309) so that the files read like a deployment; the database the
// suite uses (3306) is never touched.

const run = promisify(execFile);
const PROVIDER = "/usr/lib/galera/libgalera_smm.so";
const SEARCH_PATH = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin"];

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

/** Why a Galera cluster cannot run here, or undefined when it can. */
export const GALERA_MISSING: string | undefined = (() => {
  const missing = ["mariadbd", "mariadb-install-db", "mariadb", "haproxy", "rsync", "wsrep_sst_rsync"].filter(
    (name) => findBinary(name) === undefined,
  );
  if (!existsSync(PROVIDER)) missing.push(PROVIDER);
  return missing.length === 0
    ? undefined
    : `needs ${missing.join(", ")} (Debian: apt-get install galera-4 mariadb-server haproxy rsync; .ci/run installs them)`;
})();

/** One Galera node of the cluster. */
export interface GaleraNode {
  readonly name: string;
  /** SQL port. */
  readonly port: number;
  readonly url: string;
  /** Starts mariadbd; `bootstrap` makes it a new cluster (galera_new_cluster), `recover` runs --wsrep-recover first. */
  start(options?: { bootstrap?: boolean; recover?: boolean }): Promise<void>;
  /** SIGKILL, as a lost host. */
  kill(): Promise<void>;
  /** wsrep_local_state (4: synced) and wsrep_cluster_size, or undefined when it does not answer. */
  status(): Promise<{ state: number; size: number } | undefined>;
  /** Resolves when the node is synced in a cluster of `size` nodes. */
  synced(size: number, timeoutMs?: number): Promise<void>;
}

/** The running cluster, with haproxy in front of it. */
export interface GaleraCluster {
  readonly nodes: readonly GaleraNode[];
  /** mysql://root@127.0.0.1:PORT/DATABASE through haproxy (node 1 primary, nodes 2 and 3 backups). */
  readonly haproxyUrl: (database: string) => string;
  readonly dir: string;
  stop(): Promise<void>;
}

/** Resolves once haproxy hands a connection to a node that answers (its checks passed), within 60 s. */
async function throughHaproxy(port: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const connection = await createConnection({
        host: "127.0.0.1",
        port,
        user: "root",
        connectTimeout: 2_000,
      });
      await connection.query("SELECT 1");
      await connection.end();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`haproxy on ${port} passes no connection: ${String(error)}`);
      await sleep(500);
    }
  }
}

/** The mysql user's ids when this process runs as root, else undefined (the nodes run as this user). */
async function nodeOwner(): Promise<{ name: string; uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const { stdout } = await run("id", ["-u", "mysql"]);
  const { stdout: group } = await run("id", ["-g", "mysql"]);
  return { name: "mysql", uid: Number(stdout.trim()), gid: Number(group.trim()) };
}

function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{\{([A-Z0-9_]+)\}\}/g, (_, key: string) => {
    if (!(key in values)) throw new Error(`no value for {{${key}}}`);
    return String(values[key]);
  });
}

/** Starts three nodes (the first bootstraps the cluster, the others join by rsync SST) and haproxy. */
export async function startGaleraCluster(
  basePort = Number(process.env.GALERA_BASE_PORT ?? 4306),
): Promise<GaleraCluster> {
  if (GALERA_MISSING !== undefined) throw new Error(GALERA_MISSING);
  const dir = await mkdtemp(join(tmpdir(), "contacts-galera-"));
  // As root, the nodes run as mysql (as Debian's service does): rsync's SST daemon, started by a root node, would
  // drop to user nobody and could not write the joiner's data directory.
  const owner = await nodeOwner();
  await chmod(dir, 0o755);
  const nodeTemplate = await readFile(join(REPO_ROOT, "deploy/galera/node.cnf.template"), "utf8");
  const gcommPorts = [0, 1, 2].map((i) => basePort + 261 + 10 * i); // 4567, 4577, 4587
  const children: (ChildProcess | undefined)[] = [];
  const nodes: GaleraNode[] = [];
  for (const i of [0, 1, 2]) {
    const name = `node${i + 1}`;
    const nodeDir = join(dir, name);
    const datadir = join(nodeDir, "data");
    await mkdir(datadir, { recursive: true });
    if (owner) {
      await chown(nodeDir, owner.uid, owner.gid);
      await chown(datadir, owner.uid, owner.gid);
    }
    const port = basePort + i;
    const cnf = join(nodeDir, "my.cnf");
    await writeFile(
      cnf,
      fill(nodeTemplate, {
        DATADIR: datadir,
        DIR: nodeDir,
        PORT: port,
        USER: owner?.name ?? userInfo().username,
        NODE_NAME: name,
        CLUSTER_ADDRESS: gcommPorts.map((p) => `127.0.0.1:${p}`).join(","),
        GCOMM_PORT: gcommPorts[i] as number,
        IST_PORT: (gcommPorts[i] as number) + 1,
        SST_PORT: (gcommPorts[i] as number) + 2,
      }),
    );
    const mariadbd = findBinary("mariadbd") as string;
    const node: GaleraNode = {
      name,
      port,
      url: `mysql://root@127.0.0.1:${port}`,
      async start({ bootstrap = false, recover = false } = {}) {
        const args = [`--defaults-file=${cnf}`];
        if (recover) {
          // A node killed mid-write has no saved position (seqno -1): recover it from InnoDB, so that it
          // catches up by IST (the writes it missed) instead of a full SST.
          await run(mariadbd, [...args, "--wsrep-recover", `--log-error=${nodeDir}/recover.log`], {
            timeout: 60_000,
          });
          const log = await readFile(join(nodeDir, "recover.log"), "utf8");
          const position = /Recovered position:\s*(\S+:-?\d+)/.exec(log)?.[1];
          if (position) args.push(`--wsrep-start-position=${position}`);
        }
        if (bootstrap) args.push("--wsrep-new-cluster");
        const child = spawn(mariadbd, args, { stdio: "ignore" });
        children[i] = child;
      },
      async kill() {
        const child = children[i];
        if (child && child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child.once("exit", resolve));
          child.kill("SIGKILL");
          await exited;
        }
      },
      async status() {
        try {
          const connection = await createConnection({
            host: "127.0.0.1",
            port,
            user: "root",
            connectTimeout: 1_000,
          });
          try {
            const [rows] = (await connection.query(
              "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state', 'wsrep_cluster_size')",
            )) as unknown as [{ Variable_name: string; Value: string }[]];
            const value = (key: string) => Number(rows.find((row) => row.Variable_name === key)?.Value ?? 0);
            return { state: value("wsrep_local_state"), size: value("wsrep_cluster_size") };
          } finally {
            await connection.end().catch(() => undefined);
          }
        } catch {
          return undefined;
        }
      },
      async synced(size, timeoutMs = 180_000) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const status = await node.status();
          if (status?.state === 4 && status.size >= size) return;
          const child = children[i];
          if (Date.now() > deadline || (child && child.exitCode !== null)) {
            const log = await readFile(join(nodeDir, "error.log"), "utf8").catch(() => "");
            throw new Error(`${name} did not sync (${JSON.stringify(status)}): ${log.slice(-6000)}`);
          }
          await sleep(250);
        }
      },
    };
    nodes.push(node);
  }
  const [first, second, third] = nodes as [GaleraNode, GaleraNode, GaleraNode];
  let haproxy: ChildProcess | undefined;
  const stop = async () => {
    haproxy?.kill("SIGKILL");
    for (const node of nodes) await node.kill();
    if (process.env.GALERA_KEEP !== "1") await rm(dir, { recursive: true, force: true });
  };
  try {
    await run(
      findBinary("mariadb-install-db") as string,
      [
        "--no-defaults",
        `--datadir=${join(dir, "node1", "data")}`,
        `--user=${owner?.name ?? userInfo().username}`,
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
      ],
      { timeout: 60_000 },
    );
    await first.start({ bootstrap: true });
    await first.synced(1);
    // One joiner at a time: each takes a full state transfer (rsync) from a donor, which stops serving meanwhile.
    await second.start();
    await second.synced(2);
    await third.start();
    await third.synced(3);
    const haproxyPort = basePort + 3;
    const haproxyTemplate = await readFile(join(REPO_ROOT, "deploy/galera/haproxy.cfg.template"), "utf8");
    const haproxyCfg = join(dir, "haproxy.cfg");
    await writeFile(
      haproxyCfg,
      fill(haproxyTemplate, {
        DIR: dir,
        PORT: haproxyPort,
        CHECK_SCRIPT: join(REPO_ROOT, "deploy/galera/wsrep-check.sh"),
        NODE1_PORT: first.port,
        NODE2_PORT: second.port,
        NODE3_PORT: third.port,
      }),
    );
    haproxy = spawn(findBinary("haproxy") as string, ["-f", haproxyCfg, "-db"], { stdio: "ignore" });
    await throughHaproxy(haproxyPort);
    return {
      nodes,
      dir,
      haproxyUrl: (database) => `mysql://root@127.0.0.1:${haproxyPort}/${database}`,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Something that runs one statement and returns its rows, as mysql2/promise's Connection does. */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

/** What startup learns about a Galera cluster behind the database URL. */
export interface ClusterInfo {
  /** wsrep_on is ON: the server is a Galera node (possibly one node of one), so other nodes may write too. */
  readonly galera: boolean;
  /** wsrep_cluster_size, 0 on a plain server. */
  readonly size: number;
}

/**
 * Asks the server whether it is a Galera node (`wsrep_on`) and how many nodes its cluster has. A plain MariaDB
 * or MySQL answers no rows or OFF: not a cluster.
 */
export async function detectCluster(connection: Queryable): Promise<ClusterInfo> {
  const on = await value(connection, "SHOW VARIABLES LIKE 'wsrep_on'");
  const size = Number((await value(connection, "SHOW STATUS LIKE 'wsrep_cluster_size'")) ?? 0);
  const galera = on?.toUpperCase() === "ON" || size > 1;
  return { galera, size: Number.isFinite(size) ? size : 0 };
}

async function value(connection: Queryable, sql: string): Promise<string | undefined> {
  const [rows] = (await connection.query(sql)) as [{ Value?: unknown }[]];
  const found = rows[0]?.Value;
  return found === undefined || found === null ? undefined : String(found);
}

/** How transactions are sent: DB_PIPELINE (see config.ts). */
export type PipelineSetting = "auto" | "on" | "off";

/**
 * Whether a transaction's statements may share a packet. Auto: yes on a single server (fewer round trips), no on
 * a Galera cluster, where an abort part-way through a packet is answered OK (see pipelined-transaction.ts).
 */
export function onePacketFor(setting: PipelineSetting, cluster: ClusterInfo): boolean {
  return setting === "auto" ? !cluster.galera : setting === "on";
}

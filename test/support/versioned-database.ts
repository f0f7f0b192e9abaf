import { randomBytes } from "node:crypto";
import { type Connection, createConnection } from "mysql2/promise";
import { DataSource, type MigrationInterface } from "typeorm";
import { parseDatabaseUrl } from "../../src/db/database.js";
import { TEST_DATABASE_URL } from "./database.js";

type Migration = new () => MigrationInterface;

/** A database of a test's own on the test server, holding the schema an earlier version of the service ran. */
export interface VersionedDatabase {
  readonly name: string;
  /** Its mysql:// URL, for the DATABASE_URL of a service that will migrate it further. */
  readonly url: string;
  /** A TypeORM data source on it (not initialised) that runs `migrations`. */
  dataSource(migrations?: readonly Migration[]): DataSource;
  /** A mysql2 connection to it, times in UTC, for writing rows as that version did and reading them back. */
  connect(): Promise<Connection>;
  drop(): Promise<void>;
}

const server = parseDatabaseUrl(TEST_DATABASE_URL).credentials;

/**
 * Creates a new database named `<label>_<random>` and runs `migrations` on it, exactly as that version's startup
 * did, so a test can put rows in it and then start the current service on it.
 */
export async function databaseAtVersion(
  label: string,
  migrations: readonly Migration[],
): Promise<VersionedDatabase> {
  const name = `${label}_${randomBytes(6).toString("hex")}`;
  const admin = await createConnection(server);
  const [[{ version }]] = (await admin.query("SELECT VERSION() AS version")) as unknown as [
    [{ version: string }],
  ];
  await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  await admin.end();
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  const database: VersionedDatabase = {
    name,
    url: url.toString(),
    dataSource: (withMigrations = []) =>
      new DataSource({
        type: /mariadb/i.test(version) ? "mariadb" : "mysql",
        host: server.host,
        port: server.port,
        username: server.user,
        password: server.password,
        database: name,
        entities: [],
        migrations: [...withMigrations],
        migrationsTransactionMode: "each",
      }),
    connect: () => createConnection({ ...server, database: name, timezone: "Z" }),
    async drop() {
      const connection = await createConnection(server);
      await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await connection.end();
    },
  };
  const previous = database.dataSource(migrations);
  await previous.initialize();
  await previous.runMigrations();
  await previous.destroy();
  return database;
}

import { randomBytes } from "node:crypto";
import { createConnection } from "mysql2/promise";
import { DataSource } from "typeorm";
import { afterAll, describe, expect, it } from "vitest";
import { newContactId } from "../../src/contacts/contact-id.js";
import { parseDatabaseUrl } from "../../src/db/database.js";
import { CreateContacts } from "../../src/db/migrations/0001-create-contacts.js";
import { AddEmailKey } from "../../src/db/migrations/0002-add-email-key.js";
import { purgeTombstoneBatch } from "../../src/db/tombstone-purge.js";
import { startTestApp } from "../support/app.js";
import { grpcJsClient } from "../support/clients.js";
import { TEST_DATABASE_URL } from "../support/database.js";

// Migration 0003 (firm clocks, tombstones, assignments, page-token secret) on a database of the previous version
// with rows in it, and the tombstone purge. The test owns a database of its own, dropped afterwards.

const server = parseDatabaseUrl(TEST_DATABASE_URL).credentials;
const name = `contacts_mig3_${randomBytes(6).toString("hex")}`;
afterAll(async () => {
  const admin = await createConnection(server);
  await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
  await admin.end();
});

describe("migration 0003 on a database of the previous version", () => {
  it("seeds each firm's clock from its stored contacts, so the next write's time is after every stored one", {
    timeout: 60_000,
  }, async () => {
    const admin = await createConnection(server);
    const [[{ version }]] = (await admin.query("SELECT VERSION() AS version")) as unknown as [
      [{ version: string }],
    ];
    await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    await admin.end();
    const previous = new DataSource({
      type: /mariadb/i.test(version) ? "mariadb" : "mysql",
      host: server.host,
      port: server.port,
      username: server.user,
      password: server.password,
      database: name,
      entities: [],
      migrations: [CreateContacts, AddEmailKey],
      migrationsTransactionMode: "each",
    });
    await previous.initialize();
    await previous.runMigrations();
    // Rows as the previous version wrote them, one firm's with an application clock running ahead.
    const ahead = new Date(Date.now() + 3_600_000);
    ahead.setMilliseconds(123);
    const id = newContactId();
    await previous.query(
      "INSERT INTO contacts (id, firm_id, email, email_key, first_name, last_name, create_time, update_time) VALUES (?, 'mig-a', 'a@example.com', 'a@example.com', 'A', 'B', ?, ?), (?, 'mig-a', 'b@example.com', 'b@example.com', 'A', 'B', ?, ?)",
      [id, ahead, ahead, newContactId(), new Date(0), new Date(0)],
    );
    await previous.destroy();

    const url = new URL(TEST_DATABASE_URL);
    url.pathname = `/${name}`;
    const app = await startTestApp({ DATABASE_URL: url.toString() });
    const db = await createConnection({ ...server, database: name, timezone: "Z" });
    try {
      const [clocks] = await db.query("SELECT firm_id, last_time FROM firm_clocks");
      expect(clocks).toEqual([{ firm_id: "mig-a", last_time: ahead }]);
      const [secrets] = (await db.query(
        "SELECT LENGTH(secret) AS bytes FROM page_token_secrets",
      )) as unknown as [{ bytes: number }[]];
      expect(secrets).toEqual([{ bytes: 32 }]);

      const client = grpcJsClient(app.url);
      const { contact } = await client.upsert({ firmId: "mig-a", email: "a@example.com", city: "Oslo" });
      expect(contact?.id).toBe(id);
      expect(Number(contact?.updateTime?.seconds) * 1000 + (contact?.updateTime?.nanos ?? 0) / 1e6).toBe(
        ahead.getTime() + 1,
      );
      const listed = await client.list({ firmId: "mig-a" });
      expect(listed.contacts.map((c) => c.email)).toEqual(["b@example.com", "a@example.com"]);
      client.close();

      // Tombstones older than the retention are purged in small batches; newer ones stay.
      const fresh = grpcJsClient(app.url);
      await fresh.delete({ firmId: "mig-a", id });
      fresh.close();
      const old = new Date(Date.now() - 31 * 86_400_000);
      for (let i = 0; i < 5; i++) {
        await db.query(
          "INSERT INTO contact_tombstones (id, firm_id, email, first_name, last_name, create_time, update_time, delete_time) VALUES (?, 'mig-a', 'x@example.com', 'X', 'Y', ?, ?, ?)",
          [newContactId(), old, old, old],
        );
      }
      const purger = new DataSource({ ...previous.options, migrations: [] } as typeof previous.options);
      await purger.initialize();
      const batches: number[] = [];
      for (let deleted = -1; deleted !== 0; ) {
        deleted = await purgeTombstoneBatch(purger, 30, 2);
        batches.push(deleted);
      }
      await purger.destroy();
      expect(batches).toEqual([2, 2, 1, 0]);
      const [left] = await db.query("SELECT id FROM contact_tombstones");
      expect(left).toEqual([{ id }]);
    } finally {
      await db.end();
      await app.close();
    }
  });
});

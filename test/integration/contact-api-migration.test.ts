import { afterAll, describe, expect, it } from "vitest";
import { newContactId } from "../../src/contacts/contact-id.js";
import { CreateContacts } from "../../src/db/migrations/0001-create-contacts.js";
import { AddEmailKey } from "../../src/db/migrations/0002-add-email-key.js";
import { purgeTombstoneBatch } from "../../src/db/tombstone-purge.js";
import { startTestApp } from "../support/app.js";
import { grpcJsClient } from "../support/clients.js";
import { databaseAtVersion, type VersionedDatabase } from "../support/versioned-database.js";

// Migration 0003 (firm clocks, tombstones, assignments, page-token secret) on a database of the previous version
// with rows in it, and the tombstone purge. The test owns a database of its own, dropped afterwards.

let database: VersionedDatabase | undefined;
afterAll(async () => {
  await database?.drop();
});

describe("migration 0003 on a database of the previous version", () => {
  it("seeds each firm's clock from its stored contacts, so the next write's time is after every stored one", {
    timeout: 60_000,
  }, async () => {
    database = await databaseAtVersion("contacts_mig3", [CreateContacts, AddEmailKey]);
    const previous = await database.connect();
    // Rows as the previous version wrote them, one firm's with an application clock running ahead.
    const ahead = new Date(Date.now() + 3_600_000);
    ahead.setMilliseconds(123);
    const id = newContactId();
    await previous.query(
      "INSERT INTO contacts (id, firm_id, email, email_key, first_name, last_name, create_time, update_time) VALUES (?, 'mig-a', 'a@example.com', 'a@example.com', 'A', 'B', ?, ?), (?, 'mig-a', 'b@example.com', 'b@example.com', 'A', 'B', ?, ?)",
      [id, ahead, ahead, newContactId(), new Date(0), new Date(0)],
    );
    await previous.end();

    const app = await startTestApp({ DATABASE_URL: database.url });
    const db = await database.connect();
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
      const purger = database.dataSource();
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

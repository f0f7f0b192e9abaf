import { afterAll, describe, expect, it } from "vitest";
import { newContactId } from "../../src/contacts/contact-id.js";
import { BlobBytes } from "../../src/db/migrations/0007-blob-bytes.js";
import { MIGRATIONS } from "../../src/db/migrations/index.js";
import { startTestApp } from "../support/app.js";
import { grpcJsClient } from "../support/clients.js";
import { databaseAtVersion, type VersionedDatabase } from "../support/versioned-database.js";

// Migration 0007 (contacts.blob_bytes) on a database of the previous version with a long note and assignments in
// it. The test owns a database of its own, dropped afterwards.

let database: VersionedDatabase | undefined;
afterAll(async () => {
  await database?.drop();
});

describe("migration 0007 on a database of the previous version", () => {
  it("counts the stored note and assignments of existing rows, and of every later write", {
    timeout: 60_000,
  }, async () => {
    database = await databaseAtVersion("contacts_mig7", MIGRATIONS.slice(0, MIGRATIONS.indexOf(BlobBytes)));
    const previous = await database.connect();
    const id = newContactId();
    const then = new Date("2026-01-02T03:04:05.678Z");
    const note = "é".repeat(1000); // 2 bytes each
    await previous.query(
      "INSERT INTO contacts (id, firm_id, email, email_key, first_name, last_name, note, create_time, update_time, assignments) VALUES (?, 'mig-7', 'a@example.com', 'a@example.com', 'A', 'B', ?, ?, ?, ?)",
      [id, note, then, then, "client\tc1\nclient\tc2"],
    );
    for (const ref of ["c1", "c2"]) {
      await previous.query(
        "INSERT INTO contact_assignments (contact_id, kind, ref_id, firm_id) VALUES (?, 'client', ?, 'mig-7')",
        [id, ref],
      );
    }
    await previous.end();

    const app = await startTestApp({ DATABASE_URL: database.url });
    const client = grpcJsClient(app.url);
    try {
      const db = database;
      const bytes = async () => {
        const check = await db.connect();
        const [rows] = (await check.query("SELECT blob_bytes FROM contacts WHERE id = ?", [
          id,
        ])) as unknown as [{ blob_bytes: number }[]];
        await check.end();
        return Number(rows[0]?.blob_bytes);
      };
      expect(await bytes()).toBe(2000 + "client\tc1\nclient\tc2".length);
      await client.assign({ firmId: "mig-7", contactId: id, investmentEntityIds: ["e1"] });
      await client.upsert({ firmId: "mig-7", email: "a@example.com", note: "short" });
      expect(await bytes()).toBe("short".length + "client\tc1\nclient\tc2\ninvestment_entity\te1".length);
      const { contacts } = await client.list({ firmId: "mig-7" });
      expect(contacts.map((c) => [c.id, c.note, c.clientIds])).toEqual([[id, "short", ["c1", "c2"]]]);
    } finally {
      client.close();
      await app.close();
    }
  });
});

import { afterAll, describe, expect, it } from "vitest";
import { ChangeKind } from "../../gen/contacts/v1/contact_service_pb.js";
import { newContactId } from "../../src/contacts/contact-id.js";
import { CreateContacts } from "../../src/db/migrations/0001-create-contacts.js";
import { AddEmailKey } from "../../src/db/migrations/0002-add-email-key.js";
import { ContactApi } from "../../src/db/migrations/0003-contact-api.js";
import { ContactChanges } from "../../src/db/migrations/0004-contact-changes.js";
import { MIGRATIONS } from "../../src/db/migrations/index.js";
import { startTestApp } from "../support/app.js";
import { grpcJsClient } from "../support/clients.js";
import { databaseAtVersion, type VersionedDatabase } from "../support/versioned-database.js";

// Migration 0004 (contact_changes) on a database of the previous version with rows in it. The test owns a
// database of its own, dropped afterwards.

let database: VersionedDatabase | undefined;
afterAll(async () => {
  await database?.drop();
});

describe("migration 0004 on a database of the previous version", () => {
  it("contacts and tombstones stored before it have an empty history; the next change is recorded", {
    timeout: 60_000,
  }, async () => {
    database = await databaseAtVersion("contacts_mig4", [CreateContacts, AddEmailKey, ContactApi]);
    const previous = await database.connect();
    const live = newContactId();
    const dead = newContactId();
    const then = new Date(Date.now() - 60_000);
    await previous.query(
      "INSERT INTO contacts (id, firm_id, email, email_key, first_name, last_name, create_time, update_time) VALUES (?, 'mig-h', 'a@example.com', 'a@example.com', 'A', 'B', ?, ?)",
      [live, then, then],
    );
    await previous.query(
      "INSERT INTO contact_tombstones (id, firm_id, email, first_name, last_name, create_time, update_time, delete_time) VALUES (?, 'mig-h', 'x@example.com', 'X', 'Y', ?, ?, ?)",
      [dead, then, then, then],
    );
    await previous.end();

    const app = await startTestApp({ DATABASE_URL: database.url });
    const client = grpcJsClient(app.url);
    try {
      for (const contactId of [live, dead]) {
        expect(await client.changes({ firmId: "mig-h", contactId })).toMatchObject({
          changes: [],
          nextPageToken: "",
        });
      }
      await client.upsert({ firmId: "mig-h", email: "A@example.com", city: "Oslo" });
      const { changes } = await client.changes({ firmId: "mig-h", contactId: live });
      expect(
        changes.map((c) => [ChangeKind[c.kind], c.fields.map((f) => [f.field, f.oldValue, f.newValue])]),
      ).toEqual([["UPDATED", [["city", undefined, "Oslo"]]]]);
    } finally {
      client.close();
      await app.close();
    }

    // Down to 0003 (through the later migrations): the table goes, the rest stays.
    const dataSource = database.dataSource(MIGRATIONS);
    await dataSource.initialize();
    try {
      for (let n = MIGRATIONS.length; n > MIGRATIONS.indexOf(ContactChanges); n--) {
        await dataSource.undoLastMigration();
      }
      const tables = (await dataSource.query("SHOW TABLES")) as Record<string, string>[];
      const names = tables.map((row) => Object.values(row)[0]);
      expect(names).not.toContain("contact_changes");
      expect(names).not.toContain("request_outcomes");
      expect(names).toEqual(expect.arrayContaining(["contacts", "contact_tombstones", "firm_clocks"]));
    } finally {
      await dataSource.destroy();
    }
  });
});

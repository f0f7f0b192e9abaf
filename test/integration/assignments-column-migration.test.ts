import { afterAll, describe, expect, it } from "vitest";
import { newContactId } from "../../src/contacts/contact-id.js";
import { CreateContacts } from "../../src/db/migrations/0001-create-contacts.js";
import { AddEmailKey } from "../../src/db/migrations/0002-add-email-key.js";
import { ContactApi } from "../../src/db/migrations/0003-contact-api.js";
import { ContactChanges } from "../../src/db/migrations/0004-contact-changes.js";
import { RequestIds } from "../../src/db/migrations/0005-request-ids.js";
import { AssignmentsColumn } from "../../src/db/migrations/0006-assignments-column.js";
import { MIGRATIONS } from "../../src/db/migrations/index.js";
import { startTestApp } from "../support/app.js";
import { grpcJsClient } from "../support/clients.js";
import { databaseAtVersion, type VersionedDatabase } from "../support/versioned-database.js";

// Migration 0006 (contacts.assignments) on a database of the previous version with assigned contacts in it. The
// test owns a database of its own, dropped afterwards.

let database: VersionedDatabase | undefined;
afterAll(async () => {
  await database?.drop();
});

describe("migration 0006 on a database of the previous version", () => {
  it("contacts keep the assignments and update time they had, and later changes show in every read", {
    timeout: 60_000,
  }, async () => {
    database = await databaseAtVersion("contacts_mig6", [
      CreateContacts,
      AddEmailKey,
      ContactApi,
      ContactChanges,
      RequestIds,
    ]);
    const previous = await database.connect();
    const assigned = newContactId();
    const bare = newContactId();
    const then = new Date("2026-01-02T03:04:05.678Z");
    for (const [id, email] of [
      [assigned, "a@example.com"],
      [bare, "b@example.com"],
    ] as const) {
      await previous.query(
        "INSERT INTO contacts (id, firm_id, email, email_key, first_name, last_name, create_time, update_time) VALUES (?, 'mig-a', ?, ?, 'A', 'B', ?, ?)",
        [id, email, email, then, then],
      );
    }
    // Inserted out of order: reads list each kind's ids sorted.
    for (const [kind, ref] of [
      ["investment_entity", "e2"],
      ["client", "c9"],
      ["investment_entity", "e1"],
      ["client", "c1"],
    ]) {
      await previous.query(
        "INSERT INTO contact_assignments (contact_id, kind, ref_id, firm_id) VALUES (?, ?, ?, 'mig-a')",
        [assigned, kind, ref],
      );
    }
    await previous.end();

    const app = await startTestApp({ DATABASE_URL: database.url });
    const client = grpcJsClient(app.url);
    try {
      const { contact } = await client.get({ firmId: "mig-a", id: assigned });
      expect(contact).toMatchObject({ clientIds: ["c1", "c9"], investmentEntityIds: ["e1", "e2"] });
      expect(contact?.updateTime?.seconds).toBe(BigInt(Math.floor(then.getTime() / 1000)));
      const { contact: none } = await client.get({ firmId: "mig-a", id: bare });
      expect(none).toMatchObject({ clientIds: [], investmentEntityIds: [] });

      // Every change of assignments rewrites the copy; every read returns it (get, list, upsert).
      await client.assign({ firmId: "mig-a", contactId: bare, clientIds: ["z", "k"] });
      await client.unassign({
        firmId: "mig-a",
        contactId: assigned,
        clientIds: ["c9"],
        investmentEntityIds: ["e1"],
      });
      const { contact: upserted } = await client.upsert({
        firmId: "mig-a",
        email: "B@example.com",
        city: "Oslo",
      });
      expect(upserted).toMatchObject({ clientIds: ["k", "z"], investmentEntityIds: [] });
      const { contacts } = await client.list({ firmId: "mig-a" });
      expect(contacts.map((c) => [c.id, c.clientIds, c.investmentEntityIds])).toEqual(
        expect.arrayContaining([
          [assigned, ["c1"], ["e2"]],
          [bare, ["k", "z"], []],
        ]),
      );
      await client.unassign({ firmId: "mig-a", contactId: bare, clientIds: ["k", "z"] });
      expect((await client.get({ firmId: "mig-a", id: bare })).contact?.clientIds).toEqual([]);
    } finally {
      client.close();
      await app.close();
    }

    // Down to 0005: the column goes, the assignments stay in contact_assignments.
    const dataSource = database.dataSource(MIGRATIONS);
    await dataSource.initialize();
    try {
      for (let n = MIGRATIONS.length; n > MIGRATIONS.indexOf(AssignmentsColumn); n--) {
        await dataSource.undoLastMigration();
      }
      const columns = (await dataSource.query("SHOW COLUMNS FROM contacts")) as { Field: string }[];
      expect(columns.map((c) => c.Field)).not.toContain("assignments");
      const rows = (await dataSource.query(
        "SELECT kind, ref_id FROM contact_assignments WHERE contact_id = ? ORDER BY kind, ref_id",
        [assigned],
      )) as { kind: string; ref_id: string }[];
      expect(rows).toEqual([
        { kind: "client", ref_id: "c1" },
        { kind: "investment_entity", ref_id: "e2" },
      ]);
    } finally {
      await dataSource.destroy();
    }
  });
});

import { afterAll, describe, expect, it } from "vitest";
import { newContactId } from "../../src/contacts/contact-id.js";
import { ContactNameSearch } from "../../src/db/migrations/0009-contact-name-search.js";
import { MIGRATIONS } from "../../src/db/migrations/index.js";
import { startTestApp } from "../support/app.js";
import { grpcJsClient } from "../support/clients.js";
import { databaseAtVersion, type VersionedDatabase } from "../support/versioned-database.js";

// Migration 0009 (name search columns and indexes) on a database of the previous version with contacts in it.
// The test owns a database of its own, dropped afterwards.

let database: VersionedDatabase | undefined;
afterAll(async () => {
  await database?.drop();
});

const INDEXES =
  "SELECT index_name AS name, GROUP_CONCAT(column_name ORDER BY seq_in_index) AS columns FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'contacts' AND index_name LIKE '%name_search' GROUP BY index_name ORDER BY index_name";

describe("migration 0009 on a database of the previous version", () => {
  it("existing contacts are found by name at once, and down removes the columns and indexes", {
    timeout: 60_000,
  }, async () => {
    const previous = MIGRATIONS.slice(0, MIGRATIONS.indexOf(ContactNameSearch));
    database = await databaseAtVersion("contacts_mig9", previous);
    const db = await database.connect();
    const then = new Date(Date.now() - 60_000);
    const people = [
      ["ann@example.com", "Ann", "Lee"],
      ["bo@example.com", "Bo", "Änneby"],
      ["cy@example.com", "Cy", "Smith"],
    ];
    for (const [email, first, last] of people) {
      await db.query(
        "INSERT INTO contacts (id, firm_id, email, email_key, first_name, last_name, create_time, update_time) VALUES (?, 'mig-f', ?, ?, ?, ?, ?, ?)",
        [newContactId(), email, email, first, last, then, then],
      );
    }
    await db.end();

    const app = await startTestApp({ DATABASE_URL: database.url });
    const client = grpcJsClient(app.url);
    try {
      const { contacts } = await client.list({ firmId: "mig-f", filter: 'name = "ann*"' });
      expect(contacts.map((c) => c.email).sort()).toEqual(["ann@example.com", "bo@example.com"]);
    } finally {
      client.close();
      await app.close();
    }
    const dataSource = database.dataSource(MIGRATIONS);
    await dataSource.initialize();
    try {
      expect(await dataSource.query(INDEXES)).toEqual([
        { name: "ix_contacts_firm_first_name_search", columns: "firm_id,first_name_search,update_time" },
        { name: "ix_contacts_firm_last_name_search", columns: "firm_id,last_name_search,update_time" },
      ]);
      for (let n = MIGRATIONS.length; n > MIGRATIONS.indexOf(ContactNameSearch); n--) {
        await dataSource.undoLastMigration();
      }
      expect(await dataSource.query(INDEXES)).toEqual([]);
      const [{ n }] = (await dataSource.query(
        "SELECT COUNT(*) AS n FROM contacts WHERE firm_id = 'mig-f' AND first_name IN ('Ann', 'Bo', 'Cy')",
      )) as { n: number }[];
      expect(Number(n)).toBe(3);
    } finally {
      await dataSource.destroy();
    }
  });
});

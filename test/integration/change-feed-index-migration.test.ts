import { afterAll, describe, expect, it } from "vitest";
import { newContactId } from "../../src/contacts/contact-id.js";
import { CreateContacts } from "../../src/db/migrations/0001-create-contacts.js";
import { AddEmailKey } from "../../src/db/migrations/0002-add-email-key.js";
import { ContactApi } from "../../src/db/migrations/0003-contact-api.js";
import { ContactChanges } from "../../src/db/migrations/0004-contact-changes.js";
import { RequestIds } from "../../src/db/migrations/0005-request-ids.js";
import { AssignmentsColumn } from "../../src/db/migrations/0006-assignments-column.js";
import { BlobBytes } from "../../src/db/migrations/0007-blob-bytes.js";
import { ChangeFeedIndex } from "../../src/db/migrations/0008-change-feed-index.js";
import { MIGRATIONS } from "../../src/db/migrations/index.js";
import { startTestApp } from "../support/app.js";
import { grpcJsClient } from "../support/clients.js";
import { databaseAtVersion, type VersionedDatabase } from "../support/versioned-database.js";

// Migration 0008 (the feed's index on contact_changes) on a database of the previous version with history in it.
// The test owns a database of its own, dropped afterwards.

let database: VersionedDatabase | undefined;
afterAll(async () => {
  await database?.drop();
});

const INDEX_COLUMNS =
  "SELECT column_name FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'contact_changes' AND index_name = 'feed_order' ORDER BY seq_in_index";

describe("migration 0008 on a database of the previous version", () => {
  it("history rows stay, the firm-ordered read uses the new index, and down removes it", {
    timeout: 60_000,
  }, async () => {
    database = await databaseAtVersion("contacts_mig8", [
      CreateContacts,
      AddEmailKey,
      ContactApi,
      ContactChanges,
      RequestIds,
      AssignmentsColumn,
      BlobBytes,
    ]);
    const previous = await database.connect();
    const id = newContactId();
    const then = new Date(Date.now() - 60_000);
    await previous.query(
      "INSERT INTO contacts (id, firm_id, email, email_key, first_name, last_name, create_time, update_time) VALUES (?, 'mig-f', 'a@example.com', 'a@example.com', 'A', 'B', ?, ?)",
      [id, then, then],
    );
    await previous.query(
      "INSERT INTO contact_changes (firm_id, contact_id, change_time, seq, principal, kind, fields) VALUES ('mig-f', ?, ?, 0, 'anonymous', 'created', '[]')",
      [id, then],
    );
    // A firm's history spread over many contacts, as the feed meets it: enough rows for the optimizer to choose.
    const rows = Array.from({ length: 400 }, (_, i) => [newContactId(), new Date(then.getTime() - 400 + i)]);
    await previous.query(
      "INSERT INTO contact_changes (firm_id, contact_id, change_time, seq, principal, kind, fields) VALUES ?",
      [rows.map(([contact, time]) => ["mig-f", contact, time, 0, "anonymous", "deleted", "[]"])],
    );
    await previous.end();

    const app = await startTestApp({ DATABASE_URL: database.url });
    const client = grpcJsClient(app.url);
    try {
      await client.upsert({ firmId: "mig-f", email: "a@example.com", city: "Oslo" });
      const { changes } = await client.changes({ firmId: "mig-f", contactId: id });
      expect(changes.map((c) => c.contactId)).toEqual([id, id]);
    } finally {
      client.close();
      await app.close();
    }
    const dataSource = database.dataSource(MIGRATIONS);
    await dataSource.initialize();
    try {
      const columns = (await dataSource.query(INDEX_COLUMNS)) as Record<string, string>[];
      expect(columns.map((row) => Object.values(row)[0])).toEqual(["firm_id", "change_time", "seq"]);
      await dataSource.query("ANALYZE TABLE contact_changes");
      const [plan] = (await dataSource.query(
        "EXPLAIN SELECT contact_id, seq FROM contact_changes WHERE firm_id = 'mig-f' AND change_time > ? ORDER BY change_time, seq",
        [then],
      )) as { key: string | null }[];
      expect(plan?.key).toBe("feed_order");
      for (let n = MIGRATIONS.length; n > MIGRATIONS.indexOf(ChangeFeedIndex); n--) {
        await dataSource.undoLastMigration();
      }
      expect(await dataSource.query(INDEX_COLUMNS)).toEqual([]);
      const [{ n }] = (await dataSource.query(
        "SELECT COUNT(*) AS n FROM contact_changes WHERE firm_id = 'mig-f'",
      )) as { n: number }[];
      expect(Number(n)).toBe(402);
    } finally {
      await dataSource.destroy();
    }
  });
});

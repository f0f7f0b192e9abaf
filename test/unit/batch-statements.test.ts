import { describe, expect, it } from "vitest";
import type { Contact } from "../../src/contacts/contact.js";
import { DATA_FIELDS, MAX_LENGTH, OPTIONAL_FIELDS } from "../../src/contacts/fields.js";
import {
  ROUND_TRIP_BYTES,
  roundTrips,
  selectByKeys,
  writeStatements,
} from "../../src/db/batch-statements.js";

const PROPERTIES = [
  "id",
  "firmId",
  "trackingId",
  "email",
  ...DATA_FIELDS,
  "createTime",
  "updateTime",
] as const;
const NOW = new Date("2025-01-01T00:00:00Z");

function contact(i: number, fill = "x"): Contact {
  const fields = Object.fromEntries(DATA_FIELDS.map((f) => [f, fill.repeat(MAX_LENGTH[f])]));
  return {
    ...fields,
    id: `id-${i}`,
    firmId: "f",
    trackingId: `T-${i}`,
    email: `e${i}@example.com`,
    createTime: NOW,
    updateTime: NOW,
  } as Contact;
}

const placeholders = (sql: string) => sql.split("?").length - 1;

describe("batch statements", () => {
  it("reads both keys in one statement, each part on its unique index and locked", () => {
    const select = selectByKeys("id", "f", { trackingIds: ["a", "b"], emails: ["c"] });
    expect(select?.sql).toBe(
      "(SELECT id FROM contacts c WHERE c.firm_id = ? AND c.tracking_id IN (?, ?) FOR UPDATE) UNION ALL " +
        "(SELECT id FROM contacts c WHERE c.firm_id = ? AND c.email_key IN (?) FOR UPDATE)",
    );
    // Emails are looked up by their identity key, as bytes.
    expect(select?.params).toEqual(["f", "a", "b", "f", Buffer.from("c")]);
    expect(selectByKeys("id", "f", { trackingIds: [], emails: [] })).toBeUndefined();
  });

  it("inserts rows with multi-row statements, every placeholder matched by a parameter", () => {
    const inserts = Array.from({ length: 600 }, (_, i) => contact(i, "a"));
    const { claims: statements, stamps } = writeStatements(PROPERTIES, {
      inserts: inserts.map((c) => ({ ...c, note: "n" })),
      updates: [],
    });
    expect(statements).toHaveLength(3); // 250 + 250 + 100 rows
    for (const s of statements) {
      expect(s.sql).toMatch(/^INSERT INTO contacts \(id, firm_id, tracking_id, email, first_name/);
      // Inserted before the clock ticks, with a provisional time the stamp replaces.
      expect(s.sql).toContain(", UTC_TIMESTAMP(3), UTC_TIMESTAMP(3), ?), (");
      expect(s.sql).toContain("note, create_time, update_time, email_key) VALUES");
      expect(placeholders(s.sql)).toBe(s.params.length);
      expect(s.params.length).toBeLessThan(65_535);
    }
    expect(stamps).toEqual([
      {
        sql: `UPDATE contacts SET create_time = @contacts_tick, update_time = @contacts_tick WHERE firm_id = ? AND id IN (${Array(600).fill("?").join(", ")})`,
        params: ["f", ...inserts.map((c) => c.id)],
      },
    ]);
  });

  it("groups updates by changed columns into UPDATE ... CASE statements scoped by firm", () => {
    const updates = [
      { contact: contact(1), changed: ["phone", "note"] as const },
      { contact: contact(2), changed: ["phone", "note"] as const },
      { contact: contact(3), changed: ["city"] as const },
    ];
    const { claims: statements, stamps } = writeStatements(PROPERTIES, { inserts: [], updates });
    expect(statements.map((s) => s.sql)).toEqual([
      "UPDATE contacts SET phone = CASE id WHEN ? THEN ? WHEN ? THEN ? END, note = CASE id WHEN ? THEN ? WHEN ? THEN ? END " +
        "WHERE firm_id = ? AND id IN (?, ?)",
      "UPDATE contacts SET city = CASE id WHEN ? THEN ? END WHERE firm_id = ? AND id IN (?)",
    ]);
    for (const s of statements) expect(placeholders(s.sql)).toBe(s.params.length);
    expect(stamps.map((s) => s.sql)).toEqual([
      "UPDATE contacts SET update_time = @contacts_tick WHERE firm_id = ? AND id IN (?, ?, ?)",
    ]);
  });

  it("has a stamped form: the same writes with the tick in place of the provisional time, and no stamps", () => {
    const writes = {
      inserts: [contact(1), contact(2)],
      updates: [{ contact: contact(3), changed: ["city"] as const }],
    };
    const { claims, stamped } = writeStatements(PROPERTIES, writes);
    expect(stamped).toHaveLength(claims.length);
    expect(stamped[0]?.sql).toBe(claims[0]?.sql.replaceAll("UTC_TIMESTAMP(3)", "@contacts_tick"));
    expect(stamped[0]?.sql).not.toContain("UTC_TIMESTAMP");
    expect(stamped[0]?.params).toEqual(claims[0]?.params);
    expect(stamped[1]).toEqual({
      sql: "UPDATE contacts SET city = CASE id WHEN ? THEN ? END, update_time = @contacts_tick WHERE firm_id = ? AND id IN (?)",
      params: claims[1]?.params,
    });
    expect(writeStatements(PROPERTIES, { inserts: [], updates: [] })).toEqual({
      claims: [],
      stamps: [],
      stamped: [],
    });
  });

  it("keeps every round trip within the packet budget for 1000 contacts of maximum length in 4-byte characters", () => {
    const wide = "😀";
    const inserts = Array.from({ length: 500 }, (_, i) => contact(i, wide));
    const updates = Array.from({ length: 500 }, (_, i) => ({
      contact: contact(1000 + i, wide),
      changed: [...DATA_FIELDS],
    }));
    const trips = roundTrips(writeStatements(PROPERTIES, { inserts, updates }).claims);
    expect(trips.length).toBeGreaterThan(1);
    for (const trip of trips) {
      const bytes = trip.reduce(
        (n, s) =>
          n +
          Buffer.byteLength(s.sql) +
          s.params.reduce<number>((m, p) => m + (typeof p === "string" ? 2 * Buffer.byteLength(p) : 32), 0),
        0,
      );
      // Worst case (every byte escaped) still well under MariaDB's 16 MiB max_allowed_packet.
      expect(bytes).toBeLessThan(ROUND_TRIP_BYTES + 200_000);
    }
    expect(OPTIONAL_FIELDS.length).toBeGreaterThan(0);
  });
});

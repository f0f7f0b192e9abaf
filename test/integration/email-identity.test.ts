import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UpsertResult } from "../../gen/contacts/v1/contact_service_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import {
  connectJsonH1,
  failure,
  grpcJsClient,
  type UpsertClient,
  type UpsertInit,
} from "../support/clients.js";
import { closeSqlPool, storedContacts, uniqueFirm } from "../support/database.js";
import { changeSome, fullWidth, otherCase, validEmail, withLookAlike } from "../support/emails.js";

// Issue 11: emails are one contact exactly when equal after NFC, width mapping and simple case folding, over
// gRPC and Connect, checked against the stored rows. The expected keys are written out, not computed.

const CLIENTS = [
  { name: "grpc-js", connect: grpcJsClient },
  { name: "connect-json-http1", connect: connectJsonH1 },
];

/** Pairs that are one contact, with the key both have (the stored email_key, as text). */
const ONE_CONTACT: readonly [string, string, string, string][] = [
  ["letter case", "ANN@EXAMPLE.COM", "ann@example.com", "ann@example.com"],
  ["letter case of accented letters", "JOSÉ@example.com", "josé@example.com", "josé@example.com"],
  [
    "precomposed é and e + U+0301",
    "jos\u00e9@example.com",
    "jose\u0301@example.com",
    "jos\u00e9@example.com",
  ],
  ["ẞ and ß", "STRA\u1e9eE@example.de", "straße@example.de", "straße@example.de"],
  ["full-width and normal width", "ｊｏｈｎ@example.com", "john@example.com", "john@example.com"],
  ["one full-width letter", "ａnn@example.com", "Ann@example.com", "ann@example.com"],
  // Folding T, J and Ω gives a letter that composes with the mark after it: the key's last NFC makes one contact.
  ["T + U+0308 and ẗ", "T\u0308@example.com", "\u1e97@example.com", "\u1e97@example.com"],
  ["J + U+030C and ǰ", "J\u030c@example.com", "\u01f0@example.com", "\u01f0@example.com"],
  ["Ω + U+0342 and ῶ", "\u03a9\u0342@example.com", "\u1ff6@example.com", "\u1ff6@example.com"],
];

/** Pairs that are two contacts. */
const TWO_CONTACTS: readonly [string, string, string][] = [
  ["ß and ss", "straße@example.de", "strasse@example.de"],
  ["é and e", "josé@example.com", "jose@example.com"],
  ["ı and i", "\u0131van@example.com", "ivan@example.com"],
  ["Arabic-Indic ١ and 1", "user\u0661@example.com", "user1@example.com"],
  ["Cyrillic а and Latin a", "\u0430nn@example.com", "ann@example.com"],
  ["katakana and hiragana", "カイ@example.jp", "かい@example.jp"],
];

/** Emails refused with INVALID_ARGUMENT naming email, each next to the address it looks like. */
const REFUSED: readonly [string, string, string][] = [
  ["mathematical bold a", "\u{1d41a}nn@example.com", "ann@example.com"],
  ["the fi ligature", "\ufb01nn@example.com", "finn@example.com"],
  ["Roman numeral Ⅰ", "\u2160van@example.com", "Ivan@example.com"],
  ["superscript ¹", "user\u00b9@example.com", "user1@example.com"],
  ["circled ①", "user\u2460@example.com", "user1@example.com"],
  ["mathematical 𝟏", "user\u{1d7cf}@example.com", "user1@example.com"],
  ["combining grapheme joiner", "an\u034fn@example.com", "ann@example.com"],
  ["variation selector", "an\ufe00n@example.com", "ann@example.com"],
];

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app.close();
  await closeSqlPool();
});

describe.each(CLIENTS)("email identity over $name", ({ name, connect }) => {
  let client: UpsertClient;
  beforeAll(() => {
    client = connect(app.url);
  });
  afterAll(() => client.close());

  const firm = () => uniqueFirm(name);
  const upsert = (request: UpsertInit) => client.upsert(request, { timeoutMs: 10_000 });
  const keysOf = async (firmId: string) =>
    (await storedContacts(firmId)).map((row) => (row.email_key as unknown as Buffer).toString("utf8"));

  it.each(ONE_CONTACT)(
    "%s: %s and %s are one contact, stored as first sent",
    async (_, first, second, key) => {
      const firmId = firm();
      const created = await upsert({ firmId, email: ` ${first} `, firstName: "Ann", lastName: "Lee" });
      expect(created.result).toBe(UpsertResult.CREATED);
      const updated = await upsert({ firmId, email: second, lastName: "Lee-Smith" });
      expect(updated.result).toBe(UpsertResult.UPDATED);
      expect(updated.contact?.id).toBe(created.contact?.id);
      expect(updated.contact?.email).toBe(first);
      const taken = await failure(
        upsert({ firmId, trackingId: "crm-new", email: second, firstName: "X", lastName: "Y" }),
      );
      expect(taken.code).toBe("ALREADY_EXISTS");
      const rows = await storedContacts(firmId);
      expect(rows.map((row) => [row.email, row.last_name])).toEqual([[first, "Lee-Smith"]]);
      expect(await keysOf(firmId)).toEqual([key]);
    },
  );

  it.each(TWO_CONTACTS)("%s: %s and %s are two contacts", async (_, first, second) => {
    const firmId = firm();
    const a = await upsert({ firmId, email: first, firstName: "A", lastName: "A" });
    const b = await upsert({ firmId, email: second, firstName: "B", lastName: "B" });
    expect([a.result, b.result]).toEqual([UpsertResult.CREATED, UpsertResult.CREATED]);
    expect(b.contact?.id).not.toBe(a.contact?.id);
    // Each is found again by its own address, in another letter case.
    const c = await upsert({ firmId, email: second.toUpperCase(), firstName: "B2" });
    expect(c.result).toBe(UpsertResult.UPDATED);
    expect(c.contact?.id).toBe(b.contact?.id);
    const rows = await storedContacts(firmId);
    expect(rows.map((row) => [row.email, row.first_name]).sort()).toEqual(
      [
        [first, "A"],
        [second, "B2"],
      ].sort(),
    );
  });

  it.each(REFUSED)(
    "%s: %s is INVALID_ARGUMENT naming email, even when %s exists, and nothing is written",
    async (_, refused, lookAlike) => {
      const firmId = firm();
      await upsert({ firmId, email: lookAlike, firstName: "Ann", lastName: "Lee" });
      const before = await storedContacts(firmId);
      for (const request of [
        { firmId, email: refused, lastName: "Changed" },
        { firmId, email: refused, firstName: "New", lastName: "Contact" },
        { firmId, trackingId: "crm-1", email: refused, firstName: "New", lastName: "Contact" },
      ]) {
        const bad = await failure(upsert(request));
        expect(bad).toMatchObject({ code: "INVALID_ARGUMENT", fields: ["email"] });
        expect(bad.message).toContain("email: must not contain");
      }
      expect(await storedContacts(firmId)).toEqual(before);
    },
  );

  it("a random change of case, width or normal form updates the contact; a look-alike letter is another contact or refused", async () => {
    await fc.assert(
      fc.asyncProperty(
        validEmail,
        fc.array(fc.boolean(), { minLength: 1, maxLength: 12 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 12 }),
        fc.nat(),
        fc.nat(),
        async (email, cases, widths, at, pick) => {
          const firmId = firm();
          const created = await upsert({ firmId, email, firstName: "A", lastName: "A" });
          const variant = changeSome(changeSome(email, cases, otherCase), widths, fullWidth).normalize("NFD");
          const same = await upsert({ firmId, email: variant, lastName: "B" });
          expect(same.result).toBe(UpsertResult.UPDATED);
          expect(same.contact?.id).toBe(created.contact?.id);
          const lookAlike = withLookAlike(email, at, pick);
          if (lookAlike !== undefined) {
            const other = await upsert({ firmId, email: lookAlike, firstName: "C", lastName: "C" });
            expect(other.result).toBe(UpsertResult.CREATED);
          }
          const rows = await storedContacts(firmId);
          expect(rows.map((row) => row.email)).toEqual(
            lookAlike === undefined ? [email] : [email, lookAlike],
          );
          expect(rows[0]?.last_name).toBe("B");
        },
      ),
      { numRuns: 25 },
    );
  });
});

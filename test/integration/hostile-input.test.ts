import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UpsertResult } from "../../gen/contacts/v1/contact_service_pb.js";
import { DATA_FIELDS } from "../../src/contacts/fields.js";
import { startTestApp, type TestApp } from "../support/app.js";
import {
  connectJsonH1,
  failure,
  grpcJsClient,
  type UpsertClient,
  type UpsertInit,
} from "../support/clients.js";
import { closeSqlPool, sql, uniqueFirm } from "../support/database.js";

// Fragments that have broken services before: control characters, bidi overrides, combining marks, astral
// code points, lone surrogates, SQL and HTML, and whitespace the trim must remove.
const NASTY = [
  "\u0000",
  "\u0007",
  "\u202E",
  "\u200F",
  "e\u0301",
  "\u{1F600}",
  "\u{10FFFD}",
  "\uD800",
  "\uDFFF",
  "'; DROP TABLE contacts; --",
  '" OR 1=1 --',
  "<script>alert(1)</script>",
  "\\",
  "%s%n",
  "\t",
  "\n",
  "\u00A0",
  "\uFEFF",
  " ",
  "\u3000",
];

const hostileString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.array(fc.constantFrom(...NASTY), { maxLength: 6 }).map((parts) => parts.join("x")),
  fc.integer({ min: 0, max: 12_000 }).map((n) => "\u{1F600}".repeat(n)),
);
const benign = fc
  .string({ unit: "grapheme-ascii", minLength: 1, maxLength: 30 })
  .filter((v) => v.trim() !== "");
const REQUEST_FIELDS = ["trackingId", "email", ...DATA_FIELDS] as const;

// A valid create, then one to three fields replaced by hostile strings: most runs exercise one field at a time,
// so acceptances and rejections both happen often.
const request = fc
  .tuple(
    fc.record({ email: fc.emailAddress(), firstName: benign, lastName: benign }),
    fc.dictionary(fc.constantFrom(...REQUEST_FIELDS.filter((f) => f !== "trackingId")), hostileString, {
      minKeys: 1,
      maxKeys: 3,
    }),
  )
  .map(([base, hostile]) => ({ ...base, ...hostile }) as Record<string, string>);

/** What the server stores for a string it accepts: protobuf carries only well-formed text, trimmed. */
const accepted = (value: string) => value.toWellFormed().trim();
const column = (field: string) => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app.close();
  await closeSqlPool();
});

describe.each([
  ["grpc-js", (url: string) => grpcJsClient(url)],
  ["Connect JSON", (url: string) => connectJsonH1(url)],
])("random strings in every field over %s", (_, makeClient) => {
  let client: UpsertClient;
  beforeAll(() => {
    client = makeClient(app.url);
  });
  afterAll(() => client.close());

  it("succeed and read back exactly, or fail with INVALID_ARGUMENT naming a sent field, or ALREADY_EXISTS", async () => {
    const outcomes: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(request, fc.boolean(), async (fields, withTrackingId) => {
        const firmId = uniqueFirm("fuzz");
        const init: UpsertInit = { firmId, ...(withTrackingId && { trackingId: "T-1" }), ...fields };
        let response: Awaited<ReturnType<UpsertClient["upsert"]>>;
        try {
          response = await client.upsert(init);
        } catch (error) {
          const { code, fields: named, message } = await failure(Promise.reject(error));
          outcomes[code] = (outcomes[code] ?? 0) + 1;
          expect(["INVALID_ARGUMENT", "ALREADY_EXISTS"]).toContain(code);
          if (code === "INVALID_ARGUMENT" && named.length === 0) {
            // Text that is not valid UTF-8 (a lone surrogate in JSON) is refused while decoding, before any
            // handler runs: the message still names the field, by its proto name.
            const decoded = /UpsertContactRequest\.(\w+)/.exec(message)?.[1] ?? "";
            expect(REQUEST_FIELDS).toContain(decoded.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()));
          }
          for (const field of named) expect(REQUEST_FIELDS).toContain(field);
          expect(await sql("SELECT id FROM contacts WHERE firm_id = ?", [firmId])).toHaveLength(0);
          return;
        }
        outcomes.OK = (outcomes.OK ?? 0) + 1;
        expect(response.result).toBe(UpsertResult.CREATED);
        const [row] = await sql<Record<string, string | null>>("SELECT * FROM contacts WHERE firm_id = ?", [
          firmId,
        ]);
        for (const [field, value] of Object.entries(fields)) {
          const expected = accepted(value as string) || null;
          expect(row?.[column(field)]).toBe(expected);
          expect((response.contact as unknown as Record<string, unknown>)[field] ?? null).toBe(expected);
        }
      }),
      { numRuns: 150 },
    );
    console.info(`outcomes: ${JSON.stringify(outcomes)}`);
  });
});

import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ContactSchema } from "../../gen/contacts/v1/contact_pb.js";
import {
  ChangeKind,
  ContactChangeSchema,
  MatchKey,
  UpsertContactResponseSchema,
  UpsertResult,
} from "../../gen/contacts/v1/contact_service_pb.js";
import { searchFilters } from "../../web/src/search.js";
import { changeHeading, changeLines, explain, upsertSentence } from "../../web/src/words.js";

// The contact book page's words and searches: pure functions, no browser.

describe("searchFilters", () => {
  it.each([
    ["", { main: "" }],
    ["  ", { main: "" }],
    ["Ann@Example.com", { main: 'email = "Ann@Example.com"' }],
    ["ann", { main: 'name = "ann*"', exact: 'tracking_id = "ann"' }],
    ["Ann Lee", { main: 'name = "Ann*"', exact: 'tracking_id = "Ann Lee"' }],
    ['O"Neil\\', { main: 'name = "O\\"Neil\\\\*"', exact: 'tracking_id = "O\\"Neil\\\\"' }],
    ["a*b", { main: 'name = "ab*"', exact: 'tracking_id = "ab"' }],
  ])("%j asks %j", (text, expected) => {
    expect(searchFilters(text)).toEqual(expected);
  });
});

describe("upsertSentence", () => {
  const contact = create(ContactSchema, { firstName: "Ann", lastName: "Lee", email: "ann@example.com" });
  it("says created, or which contact matched by which key and what changed", () => {
    const response = (init: object) => create(UpsertContactResponseSchema, { contact, ...init });
    expect(upsertSentence(response({ result: UpsertResult.CREATED }))).toBe("Created Ann Lee.");
    expect(
      upsertSentence(
        response({
          result: UpsertResult.UPDATED,
          matchedBy: MatchKey.EMAIL,
          changedFields: { paths: ["city", "phone", "zip_code"] },
        }),
      ),
    ).toBe("Ann Lee already exists (found by its email): changed city, phone and zip code.");
    expect(upsertSentence(response({ result: UpsertResult.UPDATED, matchedBy: MatchKey.TRACKING_ID }))).toBe(
      "Ann Lee already exists (found by its tracking ID); nothing needed changing.",
    );
  });
});

describe("history lines", () => {
  it("say which field went from what to what, and who and when", () => {
    const change = create(ContactChangeSchema, {
      kind: ChangeKind.UPDATED,
      principal: "operator",
      changeTime: timestampFromDate(new Date("2026-12-05T08:00:00Z")),
      fields: [
        { field: "city", oldValue: "Oslo", newValue: "Bergen" },
        { field: "phone", newValue: "+47 1" },
        { field: "title", oldValue: "CEO" },
        { field: "client_ids", newValue: "c-1" },
      ],
    });
    expect(changeLines(change)).toEqual([
      "City changed from “Oslo” to “Bergen”",
      "Phone set to “+47 1”",
      "Title cleared (was “CEO”)",
      "Clients: added c-1",
    ]);
    expect(changeHeading(change, (d) => d.toISOString())).toBe(
      "Changed by operator · 2026-12-05T08:00:00.000Z",
    );
  });
});

describe("explain", () => {
  it.each([
    [Code.Unauthenticated, "key"],
    [Code.PermissionDenied, "forbidden"],
    [Code.ResourceExhausted, "busy"],
    [Code.Unknown, "offline"],
    [Code.Internal, "other"],
  ])("code %i is %s, in words without the code, which goes to the detail", (code, kind) => {
    const explained = explain(new ConnectError("raw message", code), "save the contact");
    expect(explained.kind).toBe(kind);
    expect(explained.sentence).not.toContain("raw message");
    expect(explained.detail).toContain("raw message");
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Contact, UpsertInput } from "../../src/contacts/contact.js";
import {
  decideUpsert,
  type UpsertCandidates,
  type UpsertDecision,
} from "../../src/contacts/decide-upsert.js";
import { OPTIONAL_FIELDS } from "../../src/contacts/fields.js";

function contact(overrides: Partial<Contact> & Pick<Contact, "id" | "email">): Contact {
  const empty = Object.fromEntries(OPTIONAL_FIELDS.map((field) => [field, null]));
  const time = new Date("2024-01-01T00:00:00Z");
  return {
    firmId: "firm-1",
    trackingId: null,
    firstName: "First",
    lastName: "Last",
    createTime: time,
    updateTime: time,
    clientIds: [],
    investmentEntityIds: [],
    ...empty,
    ...overrides,
  } as Contact;
}

// Two stored contacts of one firm: A has a tracking id, B does not.
const A = contact({ id: "id-a", trackingId: "T-A", email: "ada@example.com" });
const B = contact({ id: "id-b", email: "bob@example.com" });
const names = { firstName: "New", lastName: "Person" };

type TrackingCase = "absent" | "matching A" | "unknown";
type EmailCase = "absent" | "matching A" | "matching A in another case" | "matching B" | "unknown";

const trackingIds: Record<TrackingCase, string | undefined> = {
  absent: undefined,
  "matching A": "T-A",
  unknown: "T-NEW",
};
const emails: Record<EmailCase, { email: string | undefined; stored: Contact | null }> = {
  absent: { email: undefined, stored: null },
  "matching A": { email: "ada@example.com", stored: A },
  "matching A in another case": { email: "ADA@Example.COM", stored: A },
  "matching B": { email: "bob@example.com", stored: B },
  unknown: { email: "new@example.com", stored: null },
};

/**
 * The candidates the store reads for a request: the contact with the tracking id, and the one whose email
 * equals the request's ignoring case (the database does the case folding, so the row is simply present).
 */
function candidatesFor(trackingCase: TrackingCase, emailCase: EmailCase): UpsertCandidates {
  return {
    byTrackingId: trackingCase === "matching A" ? A : null,
    byEmail: emails[emailCase].stored,
  };
}

const update = (stored: Contact, matchedBy: "trackingId" | "email"): UpsertDecision => ({
  kind: "update",
  contact: stored,
  matchedBy,
});
const create: UpsertDecision = { kind: "create" };
const emailTaken = (owner: Contact): UpsertDecision => ({
  kind: "reject",
  reason: "email_taken",
  contactId: owner.id,
});

const table: [TrackingCase, EmailCase, string, UpsertDecision][] = [
  [
    "absent",
    "absent",
    "the request is rejected for lack of a match key",
    {
      kind: "reject",
      reason: "missing_match_key",
    },
  ],
  ["absent", "matching A", "the contact with that email is updated", update(A, "email")],
  ["absent", "matching A in another case", "the contact is found ignoring letter case", update(A, "email")],
  ["absent", "matching B", "the contact with that email is updated", update(B, "email")],
  ["absent", "unknown", "a contact is created", create],
  ["matching A", "absent", "the tracked contact is updated", update(A, "trackingId")],
  ["matching A", "matching A", "the tracked contact is updated", update(A, "trackingId")],
  ["matching A", "matching A in another case", "the tracked contact is updated", update(A, "trackingId")],
  [
    "matching A",
    "matching B",
    "the email is not cross-checked: the tracked contact is updated",
    update(A, "trackingId"),
  ],
  ["matching A", "unknown", "the email is ignored: the tracked contact is updated", update(A, "trackingId")],
  [
    "unknown",
    "absent",
    "nothing can be created without an email",
    {
      kind: "reject",
      reason: "missing_required",
      fields: ["email"],
    },
  ],
  ["unknown", "matching A", "creating would reuse A's email, so it is rejected", emailTaken(A)],
  ["unknown", "matching A in another case", "an email taken in another case is still taken", emailTaken(A)],
  ["unknown", "matching B", "creating would reuse B's email, so it is rejected", emailTaken(B)],
  ["unknown", "unknown", "a contact is created with the new tracking id", create],
];

describe("decideUpsert: every combination of tracking id and email", () => {
  it("covers all 15 combinations", () => {
    expect(new Set(table.map(([t, e]) => `${t}/${e}`)).size).toBe(15);
  });

  it.each(table)(
    "when the trackingId is %s and the email is %s, %s",
    (trackingCase, emailCase, _, expected) => {
      const input: UpsertInput = {
        firmId: "firm-1",
        trackingId: trackingIds[trackingCase],
        email: emails[emailCase].email,
        ...names,
      };
      expect(decideUpsert(input, candidatesFor(trackingCase, emailCase))).toEqual(expected);
    },
  );

  it("when the trackingId matches, the email is ignored even if the store also found a contact by email", () => {
    const decision = decideUpsert(
      { firmId: "firm-1", trackingId: "T-A", email: "bob@example.com" },
      { byTrackingId: A, byEmail: B },
    );
    expect(decision).toEqual(update(A, "trackingId"));
  });

  it("when the email matches a contact that has a tracking id, a request without trackingId still updates it", () => {
    expect(
      decideUpsert({ firmId: "firm-1", email: "ada@example.com" }, { byTrackingId: null, byEmail: A }),
    ).toEqual(update(A, "email"));
  });

  it("returns the stored contact itself, not a copy", () => {
    const decision = decideUpsert(
      { firmId: "firm-1", trackingId: "T-A" },
      { byTrackingId: A, byEmail: null },
    );
    expect(decision.kind === "update" && decision.contact).toBe(A);
  });
});

describe("decideUpsert: fields required to create", () => {
  const required = ["email", "firstName", "lastName"] as const;
  const full: UpsertInput = {
    firmId: "firm-1",
    email: "new@example.com",
    firstName: "New",
    lastName: "Person",
  };
  const none = { byTrackingId: null, byEmail: null };

  it.each(["firstName", "lastName"] as const)(
    "when creating by email without %s, the request is rejected naming it",
    (field) => {
      const input = { ...full, [field]: undefined };
      expect(decideUpsert(input, none)).toEqual({
        kind: "reject",
        reason: "missing_required",
        fields: [field],
      });
    },
  );

  it.each(required)(
    "when creating by a new trackingId without %s, the request is rejected naming it",
    (field) => {
      const input = { ...full, trackingId: "T-NEW", [field]: undefined };
      expect(decideUpsert(input, none)).toEqual({
        kind: "reject",
        reason: "missing_required",
        fields: [field],
      });
    },
  );

  it("when creating with only a new trackingId, every required field is named at once", () => {
    expect(decideUpsert({ firmId: "firm-1", trackingId: "T-NEW" }, none)).toEqual({
      kind: "reject",
      reason: "missing_required",
      fields: ["email", "firstName", "lastName"],
    });
  });

  it("when creating by email without names, both names are named", () => {
    expect(decideUpsert({ firmId: "firm-1", email: "new@example.com" }, none)).toEqual({
      kind: "reject",
      reason: "missing_required",
      fields: ["firstName", "lastName"],
    });
  });

  it("when updating, no data field is required", () => {
    expect(
      decideUpsert({ firmId: "firm-1", email: "ada@example.com" }, { byTrackingId: null, byEmail: A }),
    ).toEqual(update(A, "email"));
    expect(decideUpsert({ firmId: "firm-1", trackingId: "T-A" }, { byTrackingId: A, byEmail: null })).toEqual(
      update(A, "trackingId"),
    );
  });

  it("when creating, optional fields are not required", () => {
    expect(decideUpsert(full, none)).toEqual(create);
  });
});

describe("decideUpsert: properties", () => {
  const text = fc.string({ minLength: 1, maxLength: 12 });
  const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
  const storedContact = fc
    .record({ id: fc.uuid(), email: text, trackingId: fc.option(text, { nil: null }) })
    .map((fields) => contact(fields));
  const input: fc.Arbitrary<UpsertInput> = fc.record({
    firmId: text,
    trackingId: maybe(text),
    email: maybe(text),
    firstName: maybe(text),
    lastName: maybe(text),
    phone: maybe(fc.string()),
  });
  const candidates: fc.Arbitrary<UpsertCandidates> = fc.record({
    byTrackingId: fc.option(storedContact, { nil: null }),
    byEmail: fc.option(storedContact, { nil: null }),
  });

  it("when a trackingId is present and a contact has it, that contact is updated whatever the email", () => {
    fc.assert(
      fc.property(
        input,
        storedContact,
        fc.option(storedContact, { nil: null }),
        text,
        (raw, tracked, byEmail, t) => {
          const decision = decideUpsert({ ...raw, trackingId: t }, { byTrackingId: tracked, byEmail });
          expect(decision).toEqual({ kind: "update", contact: tracked, matchedBy: "trackingId" });
        },
      ),
    );
  });

  it("when the trackingId is absent and the email matches, that contact is updated by email", () => {
    fc.assert(
      fc.property(input, storedContact, text, (raw, byEmail, email) => {
        const decision = decideUpsert(
          { ...raw, trackingId: undefined, email },
          { byTrackingId: null, byEmail },
        );
        expect(decision).toEqual({ kind: "update", contact: byEmail, matchedBy: "email" });
      }),
    );
  });

  it("is total: any input and candidates give a well-formed decision, never an exception", () => {
    fc.assert(
      fc.property(input, candidates, (raw, found) => {
        const decision = decideUpsert(raw, found);
        expect(["create", "update", "reject"]).toContain(decision.kind);
        if (decision.kind === "update")
          expect([found.byTrackingId, found.byEmail]).toContain(decision.contact);
      }),
    );
  });

  it("creates only when no candidate was found and every required field is present", () => {
    fc.assert(
      fc.property(input, candidates, (raw, found) => {
        const created = decideUpsert(raw, found).kind === "create";
        const expected =
          (raw.trackingId !== undefined ? found.byTrackingId === null : true) &&
          found.byEmail === null &&
          raw.email !== undefined &&
          raw.firstName !== undefined &&
          raw.lastName !== undefined;
        expect(created).toBe(expected);
      }),
    );
  });

  it("names exactly the missing required fields, in order, when it rejects a create", () => {
    fc.assert(
      fc.property(input, (raw) => {
        const decision = decideUpsert(raw, { byTrackingId: null, byEmail: null });
        if (decision.kind === "reject" && decision.reason === "missing_required") {
          const missing = (["email", "firstName", "lastName"] as const).filter((f) => raw[f] === undefined);
          expect(decision.fields).toEqual(missing);
          expect(missing.length).toBeGreaterThan(0);
        }
      }),
    );
  });

  it("when the trackingId is unknown and the email is taken, it rejects rather than updating the email's owner", () => {
    fc.assert(
      fc.property(input, text, storedContact, (raw, t, byEmail) => {
        const decision = decideUpsert({ ...raw, trackingId: t }, { byTrackingId: null, byEmail });
        expect(decision).toEqual({ kind: "reject", reason: "email_taken", contactId: byEmail.id });
      }),
    );
  });

  it("is deterministic: the same input and candidates give the same decision", () => {
    fc.assert(
      fc.property(input, candidates, (raw, found) => {
        expect(decideUpsert(raw, found)).toEqual(decideUpsert(raw, found));
      }),
    );
  });
});

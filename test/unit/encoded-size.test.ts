import { toBinary, toJsonString } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ContactSchema } from "../../gen/contacts/v1/contact_pb.js";
import { ContactChangeSchema } from "../../gen/contacts/v1/contact_service_pb.js";
import { MIN_RESPONSE_MAX_BYTES } from "../../src/config.js";
import { ASSIGNMENT_ID_MAX_LENGTH, MAX_ASSIGNMENTS_PER_KIND } from "../../src/contacts/assignments.js";
import type { ListedContact } from "../../src/contacts/contact.js";
import {
  ANSWER_OVERHEAD,
  changeBytes,
  contactBytes,
  itemsThatFit,
  MAX_CONTACT_BYTES,
  trimToFit,
} from "../../src/contacts/encoded-size.js";
import { MAX_LENGTH, OPTIONAL_FIELDS } from "../../src/contacts/fields.js";
import type { RecordedChange } from "../../src/contacts/history-entry.js";
import { contactChangeToProto, contactToProto } from "../../src/rpc/convert.js";

const FOUR_BYTES = "𝟎";
const time = new Date("2026-12-04T16:00:00.123Z");
const ids = (n: number, unit: string) =>
  Array.from({ length: n }, (_, i) => `${i}`.padStart(4, "0") + unit.repeat(ASSIGNMENT_ID_MAX_LENGTH - 4));

/** A contact with every field at its maximum length in `unit`, and both kinds of assignment full. */
function largest(unit: string): ListedContact {
  const text = (max: number) => unit.repeat(max);
  const optional = Object.fromEntries(OPTIONAL_FIELDS.map((f) => [f, text(MAX_LENGTH[f])]));
  return {
    id: "019ac8f0-0000-7000-8000-000000000001",
    firmId: text(MAX_LENGTH.firmId),
    trackingId: text(MAX_LENGTH.trackingId),
    email: text(MAX_LENGTH.email),
    firstName: text(MAX_LENGTH.firstName),
    lastName: text(MAX_LENGTH.lastName),
    ...optional,
    createTime: time,
    updateTime: time,
    deleteTime: time,
    clientIds: ids(MAX_ASSIGNMENTS_PER_KIND, unit),
    investmentEntityIds: ids(MAX_ASSIGNMENTS_PER_KIND, unit),
  } as unknown as ListedContact;
}

const encoded = (contact: ListedContact) => {
  const message = contactToProto(contact);
  return {
    binary: toBinary(ContactSchema, message).length,
    json: Buffer.byteLength(toJsonString(ContactSchema, message)),
  };
};

describe("contactBytes", () => {
  it("is at least the protobuf and the JSON size of contacts at every maximum, in any kind of character", () => {
    for (const unit of [FOUR_BYTES, "a", '"', "\\", "é", "字"]) {
      const contact = largest(unit);
      const { binary, json } = encoded(contact);
      expect(contactBytes(contact)).toBeGreaterThanOrEqual(Math.max(binary, json));
      expect(contactBytes(contact)).toBeLessThanOrEqual(MAX_CONTACT_BYTES);
    }
    // The 4-byte worst case is about 0.57 MB, close to the bound rather than far above it.
    expect(encoded(largest(FOUR_BYTES)).binary).toBeGreaterThan(0.9 * MAX_CONTACT_BYTES);
  });

  it("is at least the protobuf and the JSON size of arbitrary contacts", () => {
    const text = fc.string({ unit: "binary", maxLength: 40 }).filter((s) => s.isWellFormed());
    fc.assert(
      fc.property(
        text,
        text,
        fc.option(text),
        fc.array(text, { maxLength: 20 }),
        (name, note, tracking, refs) => {
          const contact = {
            ...largest("a"),
            firstName: name,
            note,
            trackingId: tracking,
            phone: null,
            clientIds: refs,
            investmentEntityIds: [],
          } as ListedContact;
          const { binary, json } = encoded(contact);
          expect(contactBytes(contact)).toBeGreaterThanOrEqual(Math.max(binary, json));
        },
      ),
    );
  });

  it("leaves room for any one contact within the smallest RESPONSE_MAX_BYTES allowed", () => {
    expect(MAX_CONTACT_BYTES + ANSWER_OVERHEAD).toBeLessThanOrEqual(MIN_RESPONSE_MAX_BYTES);
  });
});

describe("changeBytes", () => {
  it("is at least the encoded size of the largest change, an assignment of both kinds in full, which fits any page", () => {
    const refs = ids(MAX_ASSIGNMENTS_PER_KIND, FOUR_BYTES);
    const change: RecordedChange = {
      contactId: "019ac8f0-0000-7000-8000-000000000001",
      kind: "assigned",
      changeTime: time,
      seq: 0,
      principal: "crm-sync",
      requestId: FOUR_BYTES.repeat(64),
      fields: ["client_ids", "investment_entity_ids"].flatMap((field) =>
        refs.map((id) => ({ field, oldValue: null, newValue: id })),
      ),
    };
    const message = contactChangeToProto(change);
    const binary = toBinary(ContactChangeSchema, message).length;
    const json = Buffer.byteLength(toJsonString(ContactChangeSchema, message));
    expect(changeBytes(change)).toBeGreaterThanOrEqual(Math.max(binary, json));
    expect(changeBytes(change) + ANSWER_OVERHEAD).toBeLessThanOrEqual(MIN_RESPONSE_MAX_BYTES);
  });
});

describe("itemsThatFit", () => {
  it.each([
    [[], 10, 5, 0],
    [[3, 3, 3], 10, 5, 3],
    [[3, 3, 3, 3], 10, 5, 3],
    [[3, 3, 3], 10, 2, 2],
    [[20, 1], 10, 5, 1], // one item always goes, so paging moves on
    [[5, 5, 1], 10, 5, 2],
  ])("sizes %j within %i bytes and %i items: %i", (sizes, budget, pageSize, expected) => {
    expect(itemsThatFit(sizes, budget, pageSize)).toBe(expected);
  });
});

describe("trimToFit", () => {
  it.each([
    // full sizes, trimmed sizes, budget, which are trimmed
    [[3, 3, 3], [1, 1, 1], 10, [false, false, false]],
    [[5, 5, 5], [1, 1, 1], 10, [false, true, true]], // the first stays whole while the rest, trimmed, fits after it
    [[5, 5, 5], [1, 1, 1], 12, [false, false, true]],
    [[9, 2, 2], [1, 2, 2], 10, [true, false, false]], // an untrimmable item (an error) keeps its room
    [[5, 5], [4, 4], 6, [true, true]], // even trimmed it does not fit: trim all that can be
    [[], [], 10, []],
  ])("full %j, trimmed %j, within %i: %j", (full, trimmed, budget, expected) => {
    expect(trimToFit(full, trimmed, budget)).toEqual(expected);
  });

  it("keeps the total within the budget whenever all trimmed fits", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 100 })), {
          maxLength: 30,
        }),
        fc.integer({ min: 0, max: 3000 }),
        (pairs, budget) => {
          const full = pairs.map(([a, b]) => Math.max(a, b));
          const trimmed = pairs.map(([a, b]) => Math.min(a, b));
          const trims = trimToFit(full, trimmed, budget);
          const total = trims.reduce((sum, t, i) => sum + ((t ? trimmed[i] : full[i]) as number), 0);
          if (trimmed.reduce((a, b) => a + b, 0) <= budget) expect(total).toBeLessThanOrEqual(budget);
          // Whole items form a prefix of the trimmable ones: once one is trimmed, every later one that can be is.
          const first = trims.indexOf(true);
          if (first !== -1)
            trims.slice(first).forEach((t, i) => {
              if (trimmed[first + i] !== full[first + i]) expect(t).toBe(true);
            });
        },
      ),
    );
  });
});

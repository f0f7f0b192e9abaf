import { describe, expect, it } from "vitest";
import type { FieldViolation } from "../../src/contacts/contact.js";
import { ValidationError } from "../../src/contacts/errors.js";
import { MAX_LENGTH, OPTIONAL_FIELDS, type RequestField } from "../../src/contacts/fields.js";
import {
  MISSING_MATCH_KEY,
  type RawUpsertRequest,
  type UpsertValidation,
  validateUpsert,
} from "../../src/contacts/validate-upsert.js";

const base: RawUpsertRequest = {
  firmId: "firm-1",
  email: "ada@example.com",
  firstName: "Ada",
  lastName: "Lovelace",
};
const ALL_FIELDS = Object.keys(MAX_LENGTH) as RequestField[];
const SINGLE_LINE_FIELDS = ALL_FIELDS.filter((field) => field !== "note");
const NEVER_EMPTY_FIELDS = ["trackingId", "email", "firstName", "lastName"] as const;

function violationsOf(result: UpsertValidation): readonly FieldViolation[] {
  return result.kind === "invalid" ? result.violations : [];
}

function validInput(result: UpsertValidation) {
  if (result.kind !== "valid") throw new Error(`expected valid, got ${JSON.stringify(result.violations)}`);
  return result.input;
}

/** A value of the field that passes every check but the ones under test, built from `unit` repeated. */
function sample(field: RequestField, unit = "x"): string {
  return field === "email" ? `${unit}@example.com` : unit;
}

/** An email of exactly `n` code points, built from a letter outside the BMP so code units and points differ. */
function emailOfCodePoints(n: number): string {
  const letter = "\u{20000}"; // CJK Extension B, a letter (Lo) of two UTF-16 code units
  const local = letter.repeat(64);
  const tld = "com";
  const rest = n - local.length / 2 - 1 - tld.length - 1; // code points left for the domain labels and dots
  const labels: string[] = [];
  let left = rest;
  while (left > 63) {
    labels.push(letter.repeat(63));
    left -= 64; // the label and the dot after it
  }
  labels.push(letter.repeat(left));
  return `${local}@${labels.join(".")}.${tld}`;
}

describe("validateUpsert: trimming", () => {
  const spaces = [
    ["space", " "],
    ["tab", "\t"],
    ["line feed", "\n"],
    ["no-break space", "\u00A0"],
    ["em space", "\u2003"],
    ["ideographic space", "\u3000"],
    ["line separator", "\u2028"],
    ["byte order mark", "\uFEFF"],
    ["narrow no-break space", "\u202F"],
  ] as const;

  it.each(ALL_FIELDS)("when %s has surrounding whitespace, it is trimmed", (field) => {
    const input = validInput(validateUpsert({ ...base, [field]: `  ${sample(field, "value")} \t` }));
    expect(input[field]).toBe(sample(field, "value"));
  });

  it.each(spaces)("when a field is wrapped in a %s, it is trimmed", (_, space) => {
    const input = validInput(
      validateUpsert({
        firmId: `${space}firm-1${space}`,
        trackingId: `${space}T-1${space}`,
        email: `${space}ada@example.com${space}`,
        firstName: `${space}Ada${space}`,
        city: `${space}Paris${space}`,
      }),
    );
    expect(input).toEqual({
      firmId: "firm-1",
      trackingId: "T-1",
      email: "ada@example.com",
      firstName: "Ada",
      city: "Paris",
    });
  });

  it("when a multi-line note has inner line breaks, only its ends are trimmed", () => {
    const input = validInput(validateUpsert({ ...base, note: "\n  line one\n\tline two \r\n" }));
    expect(input.note).toBe("line one\n\tline two");
  });

  it("when a field is omitted, it stays undefined rather than becoming empty", () => {
    const input = validInput(validateUpsert(base));
    expect(input).toEqual(base);
    expect("phone" in input).toBe(false);
  });
});

describe("validateUpsert: empty values", () => {
  it.each(NEVER_EMPTY_FIELDS)("when %s is blank, it is rejected as empty", (field) => {
    for (const blank of ["", "   ", "\u00A0\u3000"]) {
      const violations = violationsOf(validateUpsert({ ...base, [field]: blank }));
      expect(violations).toContainEqual({ field, description: "must not be empty" });
    }
  });

  it("when firmId is blank, it is rejected as required", () => {
    expect(violationsOf(validateUpsert({ ...base, firmId: " " }))).toEqual([
      { field: "firmId", description: "is required" },
    ]);
  });

  it.each(OPTIONAL_FIELDS)("when %s is blank, it is accepted as empty so that it clears", (field) => {
    for (const blank of ["", "  ", "\u2003"]) {
      expect(validInput(validateUpsert({ ...base, [field]: blank }))[field]).toBe("");
    }
  });
});

describe("validateUpsert: lengths count code points", () => {
  it.each(ALL_FIELDS)("when %s is exactly at its maximum in emoji, it passes", (field) => {
    const max = MAX_LENGTH[field];
    const value = field === "email" ? emailOfCodePoints(max) : "😀".repeat(max);
    expect([...value]).toHaveLength(max);
    expect(value.length).toBeGreaterThan(max);
    expect(validInput(validateUpsert({ ...base, [field]: value }))[field]).toBe(value);
  });

  it.each(ALL_FIELDS)("when %s is one code point over its maximum, it fails naming the limit", (field) => {
    const max = MAX_LENGTH[field];
    const value = field === "email" ? emailOfCodePoints(max + 1) : "😀".repeat(max + 1);
    expect([...value]).toHaveLength(max + 1);
    expect(violationsOf(validateUpsert({ ...base, [field]: value }))).toEqual([
      { field, description: `must be at most ${max} characters` },
    ]);
  });

  it.each(ALL_FIELDS)("when %s is one ASCII character over its maximum, it fails", (field) => {
    const max = MAX_LENGTH[field];
    const value = field === "email" ? `${"a".repeat(60)}@${"b".repeat(max - 64)}.com` : "a".repeat(max + 1);
    expect(value).toHaveLength(max + 1);
    expect(violationsOf(validateUpsert({ ...base, [field]: value }))).toEqual([
      { field, description: `must be at most ${max} characters` },
    ]);
  });

  it("when surrounding whitespace is what makes a value too long, the trimmed value passes", () => {
    const value = `   ${"a".repeat(MAX_LENGTH.zipCode)}   `;
    expect(validInput(validateUpsert({ ...base, zipCode: value })).zipCode).toBe(
      "a".repeat(MAX_LENGTH.zipCode),
    );
  });

  it("when a value mixes combining marks, each mark counts as its own code point", () => {
    const eAcute = "e\u0301"; // two code points, one grapheme
    expect(validateUpsert({ ...base, zipCode: eAcute.repeat(10) }).kind).toBe("valid");
    expect(violationsOf(validateUpsert({ ...base, zipCode: `${eAcute.repeat(10)}x` }))).toHaveLength(1);
  });
});

describe("validateUpsert: control characters", () => {
  const controls = [
    ["NUL", "\u0000"],
    ["bell", "\u0007"],
    ["escape", "\u001B"],
    ["delete", "\u007F"],
    ["next line (C1)", "\u0085"],
    ["application program command (C1)", "\u009F"],
  ] as const;
  const lineBreaks = [
    ["line feed", "\n"],
    ["carriage return", "\r"],
    ["CRLF", "\r\n"],
    ["vertical tab", "\u000B"],
    ["form feed", "\u000C"],
    ["line separator", "\u2028"],
    ["paragraph separator", "\u2029"],
  ] as const;

  it.each(controls)("when a field contains a %s character, it is rejected", (_, control) => {
    for (const field of ALL_FIELDS) {
      const value = sample(field, `a${control}b`);
      const violations = violationsOf(validateUpsert({ ...base, [field]: value }));
      expect(violations, field).toHaveLength(1);
      expect(violations[0]?.field, field).toBe(field);
      expect(violations[0]?.description, field).toMatch(/control characters/);
    }
  });

  it.each(lineBreaks)("when a single-line field contains a %s, it is rejected", (_, lineBreak) => {
    for (const field of SINGLE_LINE_FIELDS) {
      const value = sample(field, `a${lineBreak}b`);
      expect(violationsOf(validateUpsert({ ...base, [field]: value })), field).toEqual([
        { field, description: "must not contain control characters or line breaks" },
      ]);
    }
  });

  it.each(SINGLE_LINE_FIELDS)("when %s contains a tab, it is rejected", (field) => {
    expect(violationsOf(validateUpsert({ ...base, [field]: sample(field, "a\tb") }))).toEqual([
      { field, description: "must not contain control characters or line breaks" },
    ]);
  });

  it("when the note contains tabs and line breaks, it is accepted as written", () => {
    const note = "first line\r\nsecond\tline\nthird\rline";
    expect(validInput(validateUpsert({ ...base, note })).note).toBe(note);
  });

  it.each(["\u0000", "\u0007", "\u000B", "\u007F", "\u0085"])(
    "when the note contains %j, it is rejected",
    (c) => {
      expect(violationsOf(validateUpsert({ ...base, note: `a${c}b` }))).toEqual([
        { field: "note", description: "must not contain control characters other than tabs and line breaks" },
      ]);
    },
  );
});

describe("validateUpsert: lone surrogates", () => {
  it.each(["\uD800", "\uDFFF", "a\uD83Db", "\uDE00x"])(
    "when a field contains the lone surrogate in %j, it is rejected",
    (value) => {
      for (const field of ALL_FIELDS) {
        expect(violationsOf(validateUpsert({ ...base, [field]: sample(field, value) })), field).toEqual([
          { field, description: "is not valid Unicode text" },
        ]);
      }
    },
  );

  it("when a surrogate pair is complete, it is accepted", () => {
    expect(validInput(validateUpsert({ ...base, firstName: "\uD83D\uDE00" })).firstName).toBe("😀");
  });
});

describe("validateUpsert: reporting", () => {
  it("collects every violation at once, each naming its field by JSON name", () => {
    const result = validateUpsert({
      firmId: "",
      trackingId: " ",
      email: "not-an-email",
      firstName: "a\u0000",
      lastName: "",
      numberAndStreet: "1 Main St\n2nd floor",
      zipCode: "1".repeat(21),
      note: "\uD800",
    });
    expect(violationsOf(result).map((v) => v.field)).toEqual([
      "firmId",
      "trackingId",
      "email",
      "firstName",
      "lastName",
      "numberAndStreet",
      "zipCode",
      "note",
    ]);
  });

  it("when the request is rejected, the error message names each field by its JSON name", () => {
    const violations = violationsOf(
      validateUpsert({ ...base, numberAndStreet: "a\nb", zipCode: "1".repeat(21) }),
    );
    const message = new ValidationError(violations).message;
    expect(message).toBe(
      "numberAndStreet: must not contain control characters or line breaks; zipCode: must be at most 20 characters",
    );
  });

  it("when both trackingId and email are missing, both are named", () => {
    expect(
      violationsOf(validateUpsert({ firmId: "firm-1", firstName: "Ada", lastName: "Lovelace" })),
    ).toEqual(MISSING_MATCH_KEY);
    expect(MISSING_MATCH_KEY.map((v) => v.field)).toEqual(["trackingId", "email"]);
  });

  it("when both keys are missing and another field is bad, every violation is reported", () => {
    expect(violationsOf(validateUpsert({ firmId: "firm-1", phone: "1".repeat(51) }))).toEqual([
      { field: "phone", description: "must be at most 50 characters" },
      ...MISSING_MATCH_KEY,
    ]);
  });

  it("when only a trackingId is given, the request is valid (the email is needed only to create)", () => {
    expect(validInput(validateUpsert({ firmId: "firm-1", trackingId: "T-1" }))).toEqual({
      firmId: "firm-1",
      trackingId: "T-1",
    });
  });

  it("when only an email is given, the request is valid", () => {
    expect(validateUpsert({ firmId: "firm-1", email: "ada@example.com" }).kind).toBe("valid");
  });

  it("when the email is malformed, the email violation comes from the email rules", () => {
    expect(violationsOf(validateUpsert({ ...base, email: "ada@localhost" }))).toEqual([
      { field: "email", description: "the domain must have a dot, as in example.com" },
    ]);
  });
});

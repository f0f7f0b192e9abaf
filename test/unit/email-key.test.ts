import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { emailProblem } from "../../src/contacts/email.js";
import { emailCharacterProblem, emailKey } from "../../src/contacts/email-key.js";

// The rule of issue 11: one contact when equal after NFC, width mapping and simple case folding; characters
// with no place in an address are refused.

describe("emailKey: one contact", () => {
  it.each([
    ["letter case", "ANN@EXAMPLE.COM", "ann@example.com"],
    ["letter case of accented letters", "JOSÉ@example.com", "josé@example.com"],
    ["precomposed é and e + U+0301", "jos\u00e9@example.com", "jose\u0301@example.com"],
    ["capital sharp s ẞ and ß", "stra\u1e9ee@example.de", "straße@example.de"],
    ["full-width letters", "ｊｏｈｎ@example.com", "john@example.com"],
    ["one full-width letter", "ａnn@example.com", "ann@example.com"],
    ["full-width @ and dot", "john＠example．com", "john@example.com"],
    ["half-width katakana with a voiced mark", "ｶﾞｲ@example.jp", "ガイ@example.jp"],
    ["Greek capital and small letters", "ΣΟΦΙΑ@example.gr", "σοφια@example.gr"],
    ["final sigma folds to sigma", "ς@example.gr", "σ@example.gr"],
    ["Kelvin sign and K (canonically equal)", "\u212a@example.com", "k@example.com"],
    ["Cherokee small and capital letters", "\uab70@example.com", "\u13a0@example.com"],
    ["Deseret letters, outside the BMP", "\u{10400}@example.com", "\u{10428}@example.com"],
    ["title-case digraph ǅ and ǆ", "\u01c5@example.com", "\u01c6@example.com"],
  ])("%s: %s = %s", (_, a, b) => {
    expect(emailKey(a)).toBe(emailKey(b));
  });

  it("the key is the email folded: ANN@EXAMPLE.COM gives ann@example.com", () => {
    expect(emailKey("ANN@EXAMPLE.COM")).toBe("ann@example.com");
    expect(emailKey("ｊｏｈｎ@example.com")).toBe("john@example.com");
    expect(emailKey("STRA\u1e9eE@example.de")).toBe("straße@example.de");
  });
});

describe("emailKey: two contacts", () => {
  it.each([
    ["ß and ss (full case folding is not used)", "straße@example.de", "strasse@example.de"],
    ["é and e", "josé@example.com", "jose@example.com"],
    ["dotless ı and i", "\u0131@example.com", "i@example.com"],
    ["dotted İ and i", "\u0130@example.com", "i@example.com"],
    ["Arabic-Indic ١ and 1", "user\u0661@example.com", "user1@example.com"],
    ["Cyrillic а and Latin a", "\u0430nn@example.com", "ann@example.com"],
    ["Greek ο and Latin o", "b\u03bfb@example.com", "bob@example.com"],
    ["katakana and hiragana", "カイ@example.jp", "かい@example.jp"],
    ["different letters", "ann@example.com", "anne@example.com"],
  ])("%s: %s ≠ %s", (_, a, b) => {
    expect(emailKey(a)).not.toBe(emailKey(b));
  });
});

describe("emailCharacterProblem: characters with no place in an address", () => {
  it.each([
    ["mathematical bold a", "\u{1d41a}nn@example.com", "U+1D41A"],
    ["the fi ligature", "\ufb01nn@example.com", "U+FB01"],
    ["Roman numeral one", "\u2160van@example.com", "U+2160"],
    ["a superscript digit", "user\u00b9@example.com", "U+00B9"],
    ["a circled digit", "user\u2460@example.com", "U+2460"],
    ["a mathematical digit", "user\u{1d7cf}@example.com", "U+1D7CF"],
    ["a subscript digit", "user\u2081@example.com", "U+2081"],
    ["a parenthesised ideograph", "\u3220@example.com", "U+3220"],
    ["a black-letter capital", "\u210cans@example.com", "U+210C"],
  ])("refuses %s", (_, email, codePoint) => {
    const problem = emailCharacterProblem(email);
    expect(problem).toContain("must not contain compatibility characters");
    expect(problem).toContain(codePoint);
    expect(emailProblem(email)).toBe(problem);
  });

  it.each([
    ["a combining grapheme joiner", "an\u034fn@example.com", "U+034F"],
    ["a variation selector", "an\ufe00n@example.com", "U+FE00"],
    ["a soft hyphen", "an\u00adn@example.com", "U+00AD"],
    ["a zero-width space", "an\u200bn@example.com", "U+200B"],
    ["a zero-width joiner", "an\u200dn@example.com", "U+200D"],
    ["a right-to-left override", "an\u202en@example.com", "U+202E"],
    ["a Hangul filler", "an\u3164n@example.com", "U+3164"],
    ["a tag character", "an\u{e0041}n@example.com", "U+E0041"],
  ])("refuses %s", (_, email, codePoint) => {
    const problem = emailCharacterProblem(email);
    expect(problem).toContain("must not contain invisible characters");
    expect(problem).toContain(codePoint);
    expect(emailProblem(email)).toBe(problem);
  });

  it.each([
    "ann@example.com",
    "ｊｏｈｎ@example.com",
    "ｶﾞｲ@example.jp",
    "user\u0661@example.com",
    "jose\u0301@example.com",
    "用户@例子.广告",
    "مستخدم@مثال.مصر",
  ])("accepts %s", (email) => {
    expect(emailCharacterProblem(email)).toBeUndefined();
    expect(emailProblem(email)).toBeUndefined();
  });
});

describe("emailKey over every code point", () => {
  it("a letter and its simple upper or lower case have one key, except the Turkic dotless ı", () => {
    const exceptions: string[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const char = String.fromCodePoint(cp);
      for (const other of [char.toUpperCase(), char.toLowerCase()]) {
        if (other === char || [...other].length !== 1) continue;
        if (emailKey(other) !== emailKey(char)) exceptions.push(char);
      }
    }
    expect(exceptions).toEqual(["\u0131"]);
  });

  it("the key of a key is itself", () => {
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const key = emailKey(String.fromCodePoint(cp));
      if (emailKey(key) !== key) expect.fail(`U+${cp.toString(16)}`);
    }
  });
});

// Letters of several scripts, cased and uncased, with marks, digits and the symbols an address may hold.
const LETTERS = [
  ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
  ..."éÉüÜñÑøØåÅçÇßẞıİ",
  ..."αβγδεζηθικλμνξοπρσςτυφχψωΑΒΓΔΕΣΩ",
  ..."абвгдежзийклмнопрстуфхцчшщъыьэюяАБВГДЖЗИЙ",
  ..."աբգԱԲԳ", // Armenian
  ..."ᏣᎳᎩꮳꮃꭹ", // Cherokee
  ..."用户例子カイかい",
  ..."١٢٣",
  "\u{10400}",
  "\u{10428}",
  "e\u0301",
];
const SYMBOLS = [..."+-_'"];

const letter = fc.constantFrom(...LETTERS);
const atom = fc.array(fc.oneof({ weight: 6, arbitrary: letter }, fc.constantFrom(...SYMBOLS)), {
  minLength: 1,
  maxLength: 10,
});
const label = fc.array(letter, { minLength: 1, maxLength: 10 }).map((chars) => chars.join(""));
const tld = fc
  .array(fc.constantFrom(...LETTERS.filter((c) => /^\p{L}+$/u.test(c))), { minLength: 2, maxLength: 6 })
  .map((chars) => chars.join(""));

/** Valid emails of many scripts. */
const validEmail = fc
  .tuple(fc.array(atom, { minLength: 1, maxLength: 3 }), fc.array(label, { minLength: 1, maxLength: 2 }), tld)
  .map(([atoms, labels, top]) => `${atoms.map((a) => a.join("")).join(".")}@${[...labels, top].join(".")}`)
  .filter((email) => emailProblem(email) === undefined);

/** `email` with each code point chosen by `flags` replaced by `change(char)`. */
function changeSome(email: string, flags: readonly boolean[], change: (char: string) => string): string {
  return [...email].map((char, i) => (flags[i % flags.length] ? change(char) : char)).join("");
}

/** A simple case change: another case of the letter when that is one code point (not İ -> i̇, not ß -> SS). */
function otherCase(char: string): string {
  if (char === "\u0131") return char; // dotless ı: its upper case I folds to i, a different letter (CaseFolding T)
  const upper = char.toUpperCase();
  if (upper !== char && [...upper].length === 1) return upper;
  const lower = char.toLowerCase();
  return [...lower].length === 1 ? lower : char;
}

/** The full-width form of a printable ASCII character. */
function fullWidth(char: string): string {
  const cp = char.codePointAt(0) as number;
  return cp >= 0x21 && cp <= 0x7e ? String.fromCodePoint(cp + 0xfee0) : char;
}

// Letters and their look-alikes in another script (Latin, Cyrillic, Greek), both ways.
const LOOK_ALIKES: Readonly<Record<string, readonly string[]>> = (() => {
  const groups = ["aаα", "cс", "eе", "oоο", "pрρ", "xхχ", "yу", "iі", "jј", "sѕ", "AАΑ", "BВΒ", "EЕΕ", "HНΗ"];
  groups.push("KКΚ", "MМΜ", "OОΟ", "PРΡ", "TТΤ", "XХΧ", "νv");
  const table: Record<string, string[]> = {};
  for (const group of groups) {
    for (const char of group) table[char] = [...group].filter((other) => other !== char);
  }
  return table;
})();

describe("emailKey properties", () => {
  const flags = fc.array(fc.boolean(), { minLength: 1, maxLength: 20 });

  it("a random change of letter case gives the same key, and the email stays valid", () => {
    fc.assert(
      fc.property(validEmail, flags, (email, which) => {
        const changed = changeSome(email, which, otherCase);
        expect(emailKey(changed)).toBe(emailKey(email));
        expect(emailProblem(changed)).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });

  it("a random change to full width gives the same key, and the email stays valid", () => {
    fc.assert(
      fc.property(validEmail, flags, (email, which) => {
        const changed = changeSome(email, which, fullWidth);
        expect(emailKey(changed)).toBe(emailKey(email));
        expect(emailProblem(changed)).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });

  it("NFD, NFC and a mix of case and width changes give the same key", () => {
    fc.assert(
      fc.property(validEmail, flags, flags, (email, cases, widths) => {
        const key = emailKey(email);
        expect(emailKey(email.normalize("NFD"))).toBe(key);
        expect(emailKey(email.normalize("NFC"))).toBe(key);
        const both = changeSome(changeSome(email, cases, otherCase), widths, fullWidth).normalize("NFD");
        expect(emailKey(both)).toBe(key);
      }),
      { numRuns: 500 },
    );
  });

  it("replacing one letter by a look-alike of another script gives a different key", () => {
    fc.assert(
      fc.property(validEmail, fc.nat(), fc.nat(), (email, at, pick) => {
        const chars = [...email];
        const positions = chars.flatMap((char, i) => (LOOK_ALIKES[char] ? [i] : []));
        fc.pre(positions.length > 0);
        const i = positions[at % positions.length] as number;
        const options = LOOK_ALIKES[chars[i] as string] as readonly string[];
        chars[i] = options[pick % options.length] as string;
        expect(emailKey(chars.join(""))).not.toBe(emailKey(email));
      }),
      { numRuns: 500 },
    );
  });
});

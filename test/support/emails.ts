import fc from "fast-check";
import { emailProblem } from "../../src/contacts/email.js";

// Generators for the email identity rule (issue 11), shared by the unit and the over-the-wire property tests.

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
export const validEmail = fc
  .tuple(fc.array(atom, { minLength: 1, maxLength: 3 }), fc.array(label, { minLength: 1, maxLength: 2 }), tld)
  .map(([atoms, labels, top]) => `${atoms.map((a) => a.join("")).join(".")}@${[...labels, top].join(".")}`)
  .filter((email) => emailProblem(email) === undefined);

/** `email` with each code point chosen by `flags` replaced by `change(char)`. */
export function changeSome(
  email: string,
  flags: readonly boolean[],
  change: (char: string) => string,
): string {
  return [...email].map((char, i) => (flags[i % flags.length] ? change(char) : char)).join("");
}

/** A simple case change: another case of the letter when that is one code point (not İ -> i̇, not ß -> SS). */
export function otherCase(char: string): string {
  if (char === "\u0131") return char; // dotless ı: its upper case I folds to i, a different letter (CaseFolding T)
  const upper = char.toUpperCase();
  if (upper !== char && [...upper].length === 1) return upper;
  const lower = char.toLowerCase();
  return [...lower].length === 1 ? lower : char;
}

/** The full-width form of a printable ASCII character. */
export function fullWidth(char: string): string {
  const cp = char.codePointAt(0) as number;
  return cp >= 0x21 && cp <= 0x7e ? String.fromCodePoint(cp + 0xfee0) : char;
}

// Letters and their look-alikes in another script (Latin, Cyrillic, Greek), both ways.
export const LOOK_ALIKES: Readonly<Record<string, readonly string[]>> = (() => {
  const groups = ["aаα", "cс", "eе", "oоο", "pрρ", "xхχ", "yу", "iі", "jј", "sѕ", "AАΑ", "BВΒ", "EЕΕ", "HНΗ"];
  groups.push("KКΚ", "MМΜ", "OОΟ", "PРΡ", "TТΤ", "XХΧ", "νv");
  const table: Record<string, string[]> = {};
  for (const group of groups) {
    for (const char of group) table[char] = [...group].filter((other) => other !== char);
  }
  return table;
})();

/** `email` with one letter replaced by a look-alike of another script, or undefined when it has none. */
export function withLookAlike(email: string, at: number, pick: number): string | undefined {
  const chars = [...email];
  const positions = chars.flatMap((char, i) => (LOOK_ALIKES[char] ? [i] : []));
  if (positions.length === 0) return undefined;
  const i = positions[at % positions.length] as number;
  const options = LOOK_ALIKES[chars[i] as string] as readonly string[];
  chars[i] = options[pick % options.length] as string;
  return chars.join("");
}

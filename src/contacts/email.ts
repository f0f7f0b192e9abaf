import { emailCharacterProblem, emailKey, normalWidthEmail } from "./email-key.js";
import { MAX_LENGTH } from "./fields.js";

/**
 * Email syntax as a contact book needs it: a dot-atom local part (no quoted strings, no comments) and a domain of
 * at least two labels. Letters and marks of any script are allowed, so internationalised addresses pass.
 */
const ATOM = "[\\p{L}\\p{M}\\p{N}!#$%&'*+/=?^_`{|}~-]+";
const LOCAL_PART = new RegExp(`^${ATOM}(?:\\.${ATOM})*$`, "u");
const LABEL = /^[\p{L}\p{M}\p{N}](?:[\p{L}\p{M}\p{N}-]{0,61}[\p{L}\p{M}\p{N}])?$/u;
const TOP_LEVEL = /^(?:[\p{L}\p{M}]{2,63}|xn--[a-z0-9-]{1,59})$/iu;

/**
 * Why `email` (already trimmed) is not a usable address, or undefined when it is. The syntax is checked on the
 * email as it is compared (normal width, NFC), so emails that are one contact are valid or invalid together.
 */
export function emailProblem(email: string): string | undefined {
  const characters = emailCharacterProblem(email);
  if (characters !== undefined) return characters;
  const syntax = syntaxProblem(normalWidthEmail(email));
  if (syntax !== undefined) return syntax;
  // NFC may lengthen a string (a few composition exclusions); the key must fit its column like the email.
  if (codePoints(emailKey(email)) > MAX_LENGTH.email)
    return `must be at most ${MAX_LENGTH.email} characters once normalised to NFC`;
  return undefined;
}

function syntaxProblem(email: string): string | undefined {
  const at = email.lastIndexOf("@");
  if (at <= 0 || at === email.length - 1) return "must look like name@example.com";
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  if ([...local].length > 64) return "the part before @ must be at most 64 characters";
  if (!LOCAL_PART.test(local)) return "the part before @ has a character or dot that is not allowed";
  const labels = domain.split(".");
  if (labels.length < 2) return "the domain must have a dot, as in example.com";
  if (!labels.every((label) => LABEL.test(label))) return "the domain is not a valid host name";
  if (!TOP_LEVEL.test(labels[labels.length - 1] ?? ""))
    return "the domain's last label is not a valid top-level domain";
  return undefined;
}

function codePoints(value: string): number {
  let n = 0;
  for (const _ of value) n++;
  return n;
}

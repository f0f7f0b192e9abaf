import { ASSIGNMENT_ID_MAX_LENGTH, ASSIGNMENT_KINDS, MAX_ASSIGNMENTS_PER_KIND } from "./assignments.js";
import type { Contact, ListedContact } from "./contact.js";
import { DATA_FIELDS, MAX_LENGTH } from "./fields.js";
import type { RecordedChange } from "./history-entry.js";

/**
 * Upper bounds on the bytes an answer's items take on the wire, in protobuf binary and in Connect's JSON alike,
 * computed from the values without encoding them: a page is cut by these before it is encoded, once.
 */

// A field beyond its text: JSON's longest key ("investmentEntityIds") with its quotes, colon and comma, or
// protobuf's tag and length.
const FIELD_OVERHEAD = 32;
// One element of a repeated string: JSON's quotes and comma, or protobuf's tag and a length of up to 3 bytes.
const ELEMENT_OVERHEAD = 4;
// A google.protobuf.Timestamp: JSON's RFC 3339 text with nanoseconds and its key, or protobuf's nested message.
const TIMESTAMP_BYTES = 64;
// A nested message's braces (JSON) or tag and length (protobuf), and an enum's JSON name with its key.
const MESSAGE_OVERHEAD = 16;
const ENUM_BYTES = 64;
// Stored text holds no control characters but a note's tab and line breaks, which JSON writes in 2 bytes; so a
// code point costs at most 4 bytes (UTF-8) in either encoding.
const MAX_BYTES_PER_CODE_POINT = 4;

/** What one answer may hold besides its items: the page token, the message's own framing. */
export const ANSWER_OVERHEAD = 1_024;

/**
 * A string's bytes in either encoding: its UTF-8 length, plus JSON's escapes (a backslash before `"`, `\` and
 * the short control escapes, `\u00XX` for other control characters).
 */
export function textBytes(text: string): number {
  let bytes = Buffer.byteLength(text, "utf8");
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 || c === 0x5c || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x08 || c === 0x0c)
      bytes += 1;
    else if (c < 0x20) bytes += 5;
  }
  return bytes;
}

const optionalText = (text: string | null | undefined) =>
  text === null || text === undefined ? 0 : FIELD_OVERHEAD + textBytes(text);

/** A contact's encoded size, at most: every string and timestamp it holds, with its framing. */
export function contactBytes(contact: Contact | ListedContact): number {
  let bytes = MESSAGE_OVERHEAD + 3 * TIMESTAMP_BYTES;
  bytes += optionalText(contact.id) + optionalText(contact.firmId) + optionalText(contact.email);
  bytes += optionalText(contact.trackingId);
  for (const field of DATA_FIELDS) bytes += optionalText(contact[field]);
  for (const kind of ASSIGNMENT_KINDS) {
    bytes += FIELD_OVERHEAD;
    for (const id of contact[kind]) bytes += ELEMENT_OVERHEAD + textBytes(id);
  }
  return bytes;
}

/** A recorded change's encoded size, at most. */
export function changeBytes(change: RecordedChange): number {
  let bytes = MESSAGE_OVERHEAD + TIMESTAMP_BYTES + ENUM_BYTES;
  bytes += optionalText(change.principal) + optionalText(change.requestId);
  for (const field of change.fields) {
    bytes += MESSAGE_OVERHEAD + optionalText(field.field);
    bytes += optionalText(field.oldValue) + optionalText(field.newValue);
  }
  return bytes;
}

const maxText = (codePoints: number) => FIELD_OVERHEAD + MAX_BYTES_PER_CODE_POINT * codePoints;
const MAX_ASSIGNMENTS_BYTES =
  ASSIGNMENT_KINDS.length *
  (FIELD_OVERHEAD +
    MAX_ASSIGNMENTS_PER_KIND * (ELEMENT_OVERHEAD + MAX_BYTES_PER_CODE_POINT * ASSIGNMENT_ID_MAX_LENGTH));

/**
 * The largest contact contactBytes can report for a stored contact: every field at its maximum length and
 * both kinds of assignment full, in 4-byte characters (about 0.57 MB). Any answer bound at least this plus
 * ANSWER_OVERHEAD holds any one contact.
 */
export const MAX_CONTACT_BYTES =
  MESSAGE_OVERHEAD +
  3 * TIMESTAMP_BYTES +
  maxText(36) + // the contact id, a UUID
  Object.values(MAX_LENGTH).reduce((sum, max) => sum + maxText(max), 0) +
  MAX_ASSIGNMENTS_BYTES;

/**
 * Where a page of `sizes` ends: the most leading items, at most `pageSize`, whose sizes sum to no more than
 * `budget`; never fewer than one item when there is one, so paging always moves on (a single item always fits
 * the smallest allowed budget, see MAX_CONTACT_BYTES).
 */
export function itemsThatFit(sizes: readonly number[], budget: number, pageSize: number): number {
  let used = 0;
  let count = 0;
  for (const size of sizes) {
    if (count >= pageSize || (count > 0 && used + size > budget)) break;
    used += size;
    count++;
  }
  return count;
}

/**
 * Which items of an answer go out trimmed so that it fits `budget`: item i costs `full[i]` whole or `trimmed[i]`
 * trimmed (equal when it cannot be trimmed). Items stay whole from the first on while the rest, trimmed, still
 * fits after them, and every later one is trimmed; true marks a trimmed one. When even all trimmed do not fit,
 * every item that can be is trimmed.
 */
export function trimToFit(full: readonly number[], trimmed: readonly number[], budget: number): boolean[] {
  const rest = new Array<number>(full.length + 1).fill(0);
  for (let i = full.length - 1; i >= 0; i--) rest[i] = (rest[i + 1] as number) + (trimmed[i] as number);
  let used = 0;
  let trimming = false;
  return full.map((size, i) => {
    // Once an item is trimmed every later one is, so whole contacts are always a prefix a client can rely on.
    const whole = (!trimming && used + size + (rest[i + 1] as number) <= budget) || trimmed[i] === size;
    used += whole ? size : (trimmed[i] as number);
    if (!whole) trimming = true;
    return !whole;
  });
}

import { MAX_LENGTH } from "./fields.js";

/** FILTER_MAX_CHARS: the longest ListContacts filter, in characters (code points). */
export const FILTER_MAX_CHARS = 512;

/**
 * A parsed ListContacts filter: the firm's email identity, an exact tracking id, or a first or last name (equal
 * to, or starting with, `text`, ignoring case and accents).
 */
export type ListFilter =
  | { readonly kind: "email"; readonly email: string }
  | { readonly kind: "trackingId"; readonly trackingId: string }
  | { readonly kind: "name"; readonly text: string; readonly prefix: boolean };

/** ListContacts' order: by (update_time, id), oldest first or newest first. */
export type ListOrder = "asc" | "desc";

/** The result of parsing: the filter (null when empty) or why it is refused. */
export type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly problem: string };

const FIELDS: Readonly<Record<string, ListFilter["kind"]>> = {
  email: "email",
  tracking_id: "trackingId",
  trackingId: "trackingId",
  name: "name",
};
// field = "value": a field name, `=`, a double-quoted string with \" and \\ escapes; spaces around are free.
const COMPARISON = /^\s*([A-Za-z_]+)\s*=\s*"((?:[^"\\]|\\["\\])*)"\s*$/;
const SUPPORTED = 'must be email = "...", tracking_id = "..." or name = "..." (a name may end in *)';

/**
 * Parses the AIP-160 subset ListContacts supports (see the proto's `filter`): one comparison, no AND/OR. Pure
 * and total: every string gets a filter, null (empty) or a problem to report under `filter`.
 */
export function parseFilter(raw: string): Parsed<ListFilter | null> {
  if (raw.trim() === "") return { ok: true, value: null };
  if ([...raw].length > FILTER_MAX_CHARS) {
    return { ok: false, problem: `must be at most ${FILTER_MAX_CHARS} characters` };
  }
  const match = COMPARISON.exec(raw);
  const kind = match && FIELDS[match[1] as string];
  if (!match || !kind) return { ok: false, problem: SUPPORTED };
  const value = (match[2] as string).replace(/\\(["\\])/g, "$1");
  if (!value.isWellFormed() || /\p{Cc}/u.test(value)) {
    return { ok: false, problem: "must not contain control characters or invalid Unicode" };
  }
  if (kind === "email") return { ok: true, value: { kind, email: value.trim() } };
  if (kind === "trackingId") return { ok: true, value: { kind, trackingId: value.trim() } };
  const prefix = value.endsWith("*");
  const text = (prefix ? value.slice(0, -1) : value).trim();
  if (text.includes("*")) return { ok: false, problem: "may hold * only at the end of the name" };
  if (text === "") return { ok: false, problem: "must name at least one character of the name" };
  if ([...text].length > Math.max(MAX_LENGTH.firstName, MAX_LENGTH.lastName)) {
    return { ok: false, problem: "names a name longer than any stored name" };
  }
  return { ok: true, value: { kind, text, prefix } };
}

/** Parses `order_by`: empty or `update_time [asc]` is oldest first, `update_time desc` newest first. */
export function parseOrder(raw: string): Parsed<ListOrder> {
  const words = raw.trim().split(/\s+/);
  if (raw.trim() === "") return { ok: true, value: "asc" };
  const [field, direction = "asc", ...rest] = words;
  if ((field === "update_time" || field === "updateTime") && rest.length === 0) {
    if (direction.toLowerCase() === "asc") return { ok: true, value: "asc" };
    if (direction.toLowerCase() === "desc") return { ok: true, value: "desc" };
  }
  return { ok: false, problem: 'must be "update_time" or "update_time desc"' };
}

/** The filter as one canonical string, for binding page tokens to it: equal filters give equal strings. */
export function canonicalFilter(filter: ListFilter | null): string {
  if (filter === null) return "";
  if (filter.kind === "email") return `email\u0000${filter.email}`;
  if (filter.kind === "trackingId") return `tracking_id\u0000${filter.trackingId}`;
  return `name\u0000${filter.prefix ? "*" : "="}${filter.text}`;
}

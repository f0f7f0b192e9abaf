import { createHmac } from "node:crypto";
import type { FieldViolation } from "./contact.js";
import type { ChangePlace, ChangesQuery, RowSize } from "./contact-store.js";
import { ANSWER_OVERHEAD, changeBytes, itemsThatFit } from "./encoded-size.js";
import { NotFoundError, ValidationError } from "./errors.js";
import type { RecordedChange } from "./history-entry.js";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, type PagingDeps, ROW_FRAMING_BYTES } from "./list-contacts.js";
import { readPageToken, type TokenScope, writePageToken } from "./page-token.js";
import { readSized } from "./sized-read.js";
import { contactRef } from "./validate-upsert.js";

/** ListContactChanges' request as it arrives. */
export interface RawChangesRequest {
  readonly firmId: string;
  readonly contactId: string;
  readonly pageSize: number;
  readonly pageToken: string;
}

export interface ChangesPage {
  readonly changes: readonly RecordedChange[];
  /** Empty on the last page. */
  readonly nextPageToken: string;
}

/** A validated ListContactChanges request: the page's query, less its limit, and the page size. */
export interface ChangesInput {
  readonly query: Omit<ChangesQuery, "limit">;
  readonly pageSize: number;
}

/**
 * Checks a ListContactChanges request: firm and contact id present, page_size 0 is 100, above 1000 is 1000,
 * negative is a violation naming pageSize. Page tokens are ListContacts' (page-token.ts: firm, time, HMAC),
 * signed with a key derived for this contact, so a token of another contact or of ListContacts names pageToken.
 * The token's id carries the change's seq.
 */
export function validateChanges(raw: RawChangesRequest, key: Buffer): ChangesInput {
  const violations: FieldViolation[] = [];
  const { firmId, contactId } = contactRef(raw, violations);
  if (raw.pageSize < 0) violations.push({ field: "pageSize", description: "must not be negative" });
  let before: ChangesQuery["before"] = null;
  if (raw.pageToken !== "" && violations.length === 0) {
    const cursor = readPageToken(contactKey(key, contactId), scopeOf(firmId), raw.pageToken);
    const seq = cursor && /^\d{1,5}$/.test(cursor.id) ? Number(cursor.id) : undefined;
    if (cursor === undefined || seq === undefined) {
      violations.push({
        field: "pageToken",
        description: "is not a token this service issued for this firm and contact",
      });
    } else before = { time: cursor.time, seq };
  }
  if (violations.length > 0) throw new ValidationError(violations);
  const pageSize = raw.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(raw.pageSize, MAX_PAGE_SIZE);
  return { query: { firmId, contactId, before }, pageSize };
}

/**
 * The ListContactChanges use case: one page of a contact's changes, newest first, sized like ListContacts' pages
 * (list-contacts.ts): the places and stored sizes of up to one more change than the page holds first, then only
 * the changes whose answer fits RESPONSE_MAX_BYTES. NotFoundError when the firm has neither the contact nor its
 * tombstone (checked only when the page is empty: a change row outlives neither).
 */
export function listContactChanges(deps: PagingDeps) {
  const budget = deps.responseMaxBytes - ANSWER_OVERHEAD;
  return async (raw: RawChangesRequest, signal?: AbortSignal): Promise<ChangesPage> => {
    const { query, pageSize } = validateChanges(raw, deps.pageTokenKey);
    const { value: sizes } = await deps.transact(async (store) => {
      const page = await store.changeSizes({ ...query, limit: pageSize + 1 });
      if (page.length === 0 && !(await store.contactExists(query.firmId, query.contactId)))
        throw new NotFoundError();
      return page;
    }, signal);
    const count = itemsThatFit(
      sizes.map((row) => row.bytes + ROW_FRAMING_BYTES),
      budget,
      pageSize,
    );
    const chosen = sizes.slice(0, count);
    const rows = await readSized<ChangePlace, RecordedChange>(
      {
        transact: deps.transact,
        readRun: (store, after, through, limit) =>
          store.listChanges({ ...query, before: after ?? query.before, through, limit }),
      },
      chosen,
      signal,
    );
    const fit = itemsThatFit(rows.map(changeBytes), budget, pageSize);
    const changes = rows.slice(0, fit);
    if (fit === rows.length && count === sizes.length) return { changes, nextPageToken: "" };
    const last =
      fit < rows.length
        ? {
            time: (changes[fit - 1] as RecordedChange).changeTime,
            seq: (changes[fit - 1] as RecordedChange).seq,
          }
        : (chosen[count - 1] as RowSize<ChangePlace>).place;
    const key = contactKey(deps.pageTokenKey, query.contactId);
    return {
      changes,
      nextPageToken: writePageToken(key, scopeOf(query.firmId), { time: last.time, id: String(last.seq) }),
    };
  };
}

// The scope's other parameters are ListContacts'; the contact is bound through the key.
const scopeOf = (firmId: string): TokenScope => ({ firmId, updatedAfterMs: null, showDeleted: false });

/** The page-token key of one contact's history: derived, so its tokens are valid for that contact only. */
function contactKey(key: Buffer, contactId: string): Buffer {
  return createHmac("sha256", key).update(`ListContactChanges\0${contactId}`).digest();
}

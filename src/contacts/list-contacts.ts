import type { FieldViolation, ListedContact } from "./contact.js";
import type { PageStart, RowPlace, RowSize, Transact } from "./contact-store.js";
import { ANSWER_OVERHEAD, contactBytes, itemsThatFit } from "./encoded-size.js";
import { ValidationError } from "./errors.js";
import { canonicalFilter, type ListFilter, type ListOrder, parseFilter, parseOrder } from "./list-filter.js";
import { readPageToken, type TokenScope, writePageToken } from "./page-token.js";
import { readSized } from "./sized-read.js";
import { stringProblem } from "./validate-upsert.js";

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
// google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
const MIN_SECONDS = -62_135_596_800n;
const MAX_SECONDS = 253_402_300_799n;

/** ListContacts' request as it arrives; `updatedAfter` is a google.protobuf.Timestamp's two fields. */
export interface RawListRequest {
  readonly firmId: string;
  readonly pageSize: number;
  readonly pageToken: string;
  readonly updatedAfter: { readonly seconds: bigint; readonly nanos: number } | undefined;
  readonly showDeleted: boolean;
  /** AIP-160 subset (list-filter.ts); empty: every contact. */
  readonly filter: string;
  /** Empty or "update_time" (oldest first), or "update_time desc". */
  readonly orderBy: string;
}

export interface ContactPage {
  readonly contacts: readonly ListedContact[];
  /** Empty on the last page. */
  readonly nextPageToken: string;
}

/** A validated ListContacts request. */
export interface ListInput {
  readonly scope: TokenScope;
  readonly pageSize: number;
  /** Oldest first: where the page starts. Newest first: the cursor it continues below, if any. */
  readonly start: PageStart | null;
  readonly filter: ListFilter | null;
  readonly order: ListOrder;
  /** Newest first with updated_after: the strict lower bound of update_time (oldest first uses `start`). */
  readonly since: Date | null;
}

/**
 * Checks a ListContacts request and resolves where its page starts: after the token's cursor, else strictly
 * after updated_after (stored times are whole milliseconds, so "after t" is "after t rounded down"), else at the
 * beginning; newest first, below the token's cursor and above updated_after. page_size 0 is 100, above 1000 is
 * 1000, negative is a violation; a token that is not one this server issued for the same firm and parameters
 * (filter and order included) names pageToken; a bad filter names filter, a bad order orderBy.
 */
export function validateList(raw: RawListRequest, key: Buffer): ListInput {
  const violations: FieldViolation[] = [];
  const firmId = raw.firmId.trim();
  const firmProblem = stringProblem("firmId", firmId);
  if (firmProblem) violations.push({ field: "firmId", description: firmProblem });
  if (raw.pageSize < 0) violations.push({ field: "pageSize", description: "must not be negative" });
  let updatedAfterMs: number | null = null;
  if (raw.updatedAfter !== undefined) {
    const { seconds, nanos } = raw.updatedAfter;
    if (seconds < MIN_SECONDS || seconds > MAX_SECONDS || nanos < 0 || nanos > 999_999_999) {
      violations.push({ field: "updatedAfter", description: "is not a valid timestamp" });
    } else {
      updatedAfterMs = Number(seconds) * 1000 + Math.floor(nanos / 1_000_000);
    }
  }
  const filter = parseFilter(raw.filter);
  if (!filter.ok) violations.push({ field: "filter", description: filter.problem });
  else if (filter.value !== null && raw.showDeleted) {
    violations.push({ field: "filter", description: "cannot be combined with showDeleted" });
  }
  const order = parseOrder(raw.orderBy);
  if (!order.ok) violations.push({ field: "orderBy", description: order.problem });
  const parsedFilter = filter.ok ? filter.value : null;
  const descending = order.ok && order.value === "desc";
  const scope: TokenScope = {
    firmId,
    updatedAfterMs,
    showDeleted: raw.showDeleted,
    filter: canonicalFilter(parsedFilter),
    descending,
  };
  const since = updatedAfterMs === null ? null : new Date(updatedAfterMs);
  let start: PageStart | null = since === null || descending ? null : { time: since, id: null };
  if (raw.pageToken !== "" && violations.length === 0) {
    const cursor = readPageToken(key, scope, raw.pageToken);
    if (cursor === undefined) {
      violations.push({
        field: "pageToken",
        description: "is not a token this service issued for this firm and these parameters",
      });
    } else start = cursor;
  }
  if (violations.length > 0) throw new ValidationError(violations);
  const pageSize = raw.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(raw.pageSize, MAX_PAGE_SIZE);
  return {
    scope,
    pageSize,
    start,
    filter: parsedFilter,
    order: descending ? "desc" : "asc",
    since: descending ? since : null,
  };
}

/** What ListContacts and ListContactChanges need besides the store: the answer bound. */
export interface PagingDeps {
  readonly transact: Transact;
  readonly pageTokenKey: Buffer;
  /** RESPONSE_MAX_BYTES: no page's encoded answer is larger. */
  readonly responseMaxBytes: number;
}

// What a row costs on the wire beyond its stored text: every field's key and framing, three timestamps.
export const ROW_FRAMING_BYTES = 1_024;

/**
 * The ListContacts use case: one page of the firm's contacts (and tombstones, with showDeleted) in
 * (update_time, id) order, ascending or descending, optionally filtered. It first reads the places and stored sizes of up to one more row than the page
 * holds, keeps the leading rows whose answer fits RESPONSE_MAX_BYTES, then reads only those (sized-read.ts) and
 * cuts again by their encoded size: a page may hold fewer contacts than page_size, with a next_page_token.
 */
export function listContacts(deps: PagingDeps) {
  const budget = deps.responseMaxBytes - ANSWER_OVERHEAD;
  return async (raw: RawListRequest, signal?: AbortSignal): Promise<ContactPage> => {
    const { scope, pageSize, start, filter, order, since } = validateList(raw, deps.pageTokenKey);
    const query = { firmId: scope.firmId, showDeleted: scope.showDeleted, filter, order, since };
    const { value: sizes } = await deps.transact(
      (store) => store.pageSizes({ ...query, after: start, limit: pageSize + 1 }),
      signal,
    );
    const count = itemsThatFit(
      sizes.map((row) => row.bytes + ROW_FRAMING_BYTES),
      budget,
      pageSize,
    );
    const chosen = sizes.slice(0, count);
    const rows = await readSized<RowPlace, ListedContact>(
      {
        transact: deps.transact,
        readRun: (store, after, through, limit) =>
          store.listPage({ ...query, after: after ?? start, through, limit }),
      },
      chosen,
      signal,
    );
    const fit = itemsThatFit(rows.map(contactBytes), budget, pageSize);
    const contacts = rows.slice(0, fit);
    if (fit === rows.length && count === sizes.length) return { contacts, nextPageToken: "" };
    // Rows of the chosen run not read back have moved past it: the next page starts after the run's end.
    const last =
      fit < rows.length
        ? {
            time: (contacts[fit - 1] as ListedContact).updateTime,
            id: (contacts[fit - 1] as ListedContact).id,
          }
        : (chosen[count - 1] as RowSize<RowPlace>).place;
    return { contacts, nextPageToken: writePageToken(deps.pageTokenKey, scope, last) };
  };
}

import { createHmac, timingSafeEqual } from "node:crypto";

/** The request parameters a page token is bound to: a token only continues the listing it was issued for. */
export interface TokenScope {
  readonly firmId: string;
  /** updated_after in whole milliseconds (the precision of stored times), or null when absent. */
  readonly updatedAfterMs: number | null;
  readonly showDeleted: boolean;
  /** ListContacts' filter in canonical form (list-filter.ts); absent or empty: no filter. */
  readonly filter?: string;
  /** True for newest first; absent or false: oldest first. */
  readonly descending?: boolean;
}

/** Where the next page starts: after this (update time, id). */
export interface Cursor {
  readonly time: Date;
  readonly id: string;
}

const VERSION = 1;
const MAC_BYTES = 32;
// A contact id is a 36-character UUID; anything longer is not a token of ours.
const MAX_ID_BYTES = 64;

/**
 * A page token: base64url of (version, cursor time, cursor id, HMAC-SHA256 over the scope and the cursor). Opaque
 * to clients and tamper-evident: any change to it, or its use with another firm or other parameters, fails
 * `readPageToken`. The key is shared by every instance (see page-token-secret.ts).
 */
export function writePageToken(key: Buffer, scope: TokenScope, cursor: Cursor): string {
  const id = Buffer.from(cursor.id, "utf8");
  const payload = Buffer.alloc(1 + 8 + id.length);
  payload.writeUInt8(VERSION, 0);
  payload.writeBigInt64BE(BigInt(cursor.time.getTime()), 1);
  id.copy(payload, 9);
  return Buffer.concat([payload, mac(key, scope, payload)]).toString("base64url");
}

/** The cursor of a token issued for this scope with this key, or undefined for anything else. */
export function readPageToken(key: Buffer, scope: TokenScope, token: string): Cursor | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  const bytes = Buffer.from(token, "base64url");
  if (bytes.length < 1 + 8 + 1 + MAC_BYTES || bytes.length > 1 + 8 + MAX_ID_BYTES + MAC_BYTES)
    return undefined;
  const payload = bytes.subarray(0, bytes.length - MAC_BYTES);
  if (!timingSafeEqual(bytes.subarray(payload.length), mac(key, scope, payload))) return undefined;
  if (payload.readUInt8(0) !== VERSION) return undefined;
  return {
    time: new Date(Number(payload.readBigInt64BE(1))),
    id: payload.subarray(9).toString("utf8"),
  };
}

function mac(key: Buffer, scope: TokenScope, payload: Buffer): Buffer {
  // Length-prefixed fields, so no two different scopes can produce the same input.
  const firm = Buffer.from(scope.firmId, "utf8");
  const header = Buffer.alloc(4 + firm.length + 1 + 8 + 1);
  header.writeUInt32BE(firm.length, 0);
  firm.copy(header, 4);
  header.writeUInt8(scope.updatedAfterMs === null ? 0 : 1, 4 + firm.length);
  header.writeBigInt64BE(BigInt(scope.updatedAfterMs ?? 0), 5 + firm.length);
  header.writeUInt8(scope.showDeleted ? 1 : 0, 13 + firm.length);
  const hmac = createHmac("sha256", key).update(header);
  // Filter and order join the MAC only when set, so tokens of a plain listing read as they did before them.
  const filter = Buffer.from(scope.filter ?? "", "utf8");
  if (filter.length > 0 || scope.descending === true) {
    const extra = Buffer.alloc(4 + filter.length + 1);
    extra.writeUInt32BE(filter.length, 0);
    filter.copy(extra, 4);
    extra.writeUInt8(scope.descending === true ? 1 : 0, 4 + filter.length);
    hmac.update(extra);
  }
  return hmac.update(payload).digest();
}

import { randomBytes } from "node:crypto";

/**
 * A new contact id: a UUID version 7 (RFC 9562), whose leading 48 bits are the creation time in milliseconds.
 * Time-ordered ids keep inserts at the right edge of the primary-key B-tree instead of splitting random pages.
 */
export function newContactId(now: number = Date.now()): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x70;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

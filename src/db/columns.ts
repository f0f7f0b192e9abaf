import type { Contact } from "../contacts/contact.js";
import { emailKey } from "../contacts/email-key.js";
import { MAX_LENGTH } from "../contacts/fields.js";

/**
 * The column of a Contact property: its name in snake_case. The migrations create the columns under these
 * names and the repository reads and writes them, so the mapping lives here once.
 */
export const columnOf = (property: keyof Contact): string =>
  property.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * The longest email key in bytes: the key has at most MAX_LENGTH.email code points (validation checks it), each
 * at most 4 bytes in UTF-8.
 */
export const EMAIL_KEY_MAX_BYTES = 4 * MAX_LENGTH.email;

/**
 * The value of the email_key column for an email: the domain's key as UTF-8 bytes. The column is VARBINARY, so
 * equality is byte equality on every server, with no collation and no trailing-space padding.
 */
export const emailKeyColumnValue = (email: string): Buffer => Buffer.from(emailKey(email), "utf8");

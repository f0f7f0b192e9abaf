import type { Contact } from "../contacts/contact.js";

/**
 * The column of a Contact property: its name in snake_case. The migrations create the columns under these
 * names and the repository reads and writes them, so the mapping lives here once.
 */
export const columnOf = (property: keyof Contact): string =>
  property.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

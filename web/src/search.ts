/** The longest text the search sends: the service's filter limit is 512 characters with its quoting. */
export const SEARCH_MAX_CHARS = 200;

const quoted = (value: string) => `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;

/**
 * What the find box asks ListContacts: text with an @ is an email (the firm's email identity, any case); other
 * text is the start of a first or last name (its first word), and also tried as an exact tracking ID.
 */
export function searchFilters(text: string): { main: string; exact?: string } {
  const value = [...text.trim()].slice(0, SEARCH_MAX_CHARS).join("").replaceAll("*", "");
  if (value === "") return { main: "" };
  if (value.includes("@")) return { main: `email = ${quoted(value)}` };
  // A name filter matches one name: "Ann Lee" looks for names starting with "Ann".
  const word = value.split(/\s+/)[0] as string;
  return { main: `name = ${quoted(`${word}*`)}`, exact: `tracking_id = ${quoted(value)}` };
}

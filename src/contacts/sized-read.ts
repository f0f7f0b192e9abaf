import type { RowSize, Transact } from "./contact-store.js";

// Stored bytes read per statement: a cancelled or expired call stops after at most this much more.
const CHUNK_BYTES = 1_048_576;

/** How a sized read reads its rows: the runs of rows it chose, each through the last row's place. */
export interface SizedRead<Place, Item> {
  readonly transact: Transact;
  /** Reads `count` rows after `after` (null: the page's start) through `through`, in page order. */
  readonly readRun: (
    store: Parameters<Parameters<Transact>[0]>[0],
    after: Place | null,
    through: Place,
    count: number,
  ) => Promise<Item[]>;
}

/**
 * Reads the rows `chosen` (a page's leading rows by place and stored size) in runs of about CHUNK_BYTES: a call
 * whose signal aborts sends no further statement, and stops decoding rows after the current run. Rows changed since their sizes were read have moved past the page
 * (every change takes a new, later time), so a run returns the chosen rows or fewer, never others.
 */
export async function readSized<Place, Item>(
  read: SizedRead<Place, Item>,
  chosen: readonly RowSize<Place>[],
  signal: AbortSignal | undefined,
): Promise<Item[]> {
  if (chosen.length === 0) return [];
  const { value } = await read.transact(async (store) => {
    const items: Item[] = [];
    let after: Place | null = null;
    for (const run of runs(chosen)) {
      const through = (run[run.length - 1] as RowSize<Place>).place;
      items.push(...(await read.readRun(store, after, through, run.length)));
      after = through;
    }
    return items;
  }, signal);
  return value;
}

/** Consecutive runs of rows of at most CHUNK_BYTES stored bytes each, one row at least. */
function runs<Place>(rows: readonly RowSize<Place>[]): RowSize<Place>[][] {
  const out: RowSize<Place>[][] = [];
  let current: RowSize<Place>[] = [];
  let bytes = 0;
  for (const row of rows) {
    if (current.length > 0 && bytes + row.bytes > CHUNK_BYTES) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(row);
    bytes += row.bytes;
  }
  if (current.length > 0) out.push(current);
  return out;
}

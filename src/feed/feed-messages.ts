import type { RecordedChange } from "../contacts/history-entry.js";

/** One message of a watch: whole transactions (ticks) in commit order, and the point the watch has reached. */
export interface FeedMessage {
  readonly changes: readonly RecordedChange[];
  /** Every change of the firm stamped at or before this time has been sent once this message is. */
  readonly through: Date;
}

/**
 * Cuts changes of a firm read in commit order for the range (after, upTo] into messages for a watcher at
 * `position`: ticks at or before the position are skipped (it has them), and each message holds whole ticks, at
 * most `maxChanges` changes unless one tick alone has more (a transaction is never split). The last message
 * (possibly empty) reaches upTo, or the position when that is later; none when nothing is new and the position
 * already covers upTo.
 */
export function feedMessages(
  changes: readonly RecordedChange[],
  position: Date,
  upTo: Date,
  maxChanges: number,
): FeedMessage[] {
  const messages: FeedMessage[] = [];
  let current: RecordedChange[] = [];
  for (let i = 0; i < changes.length; ) {
    const tick = changes[i]?.changeTime.getTime() as number;
    let end = i;
    while (end < changes.length && changes[end]?.changeTime.getTime() === tick) end++;
    if (tick > position.getTime()) {
      if (current.length > 0 && current.length + (end - i) > maxChanges) {
        messages.push({
          changes: current,
          through: (current[current.length - 1] as RecordedChange).changeTime,
        });
        current = [];
      }
      current.push(...changes.slice(i, end));
    }
    i = end;
  }
  const through = upTo.getTime() > position.getTime() ? upTo : position;
  if (current.length > 0 || through.getTime() > position.getTime())
    messages.push({ changes: current, through });
  return messages;
}

/**
 * What of a read of at most `limit` changes can be sent: everything when the read was not cut short; otherwise
 * the ticks before the last one, which may be missing changes past the limit. `through` is how far the kept
 * changes reach; undefined when the read holds one tick only and was cut (the caller reads that tick whole).
 */
export function wholeTicks(
  changes: readonly RecordedChange[],
  upTo: Date,
  limit: number,
): { readonly changes: readonly RecordedChange[]; readonly through: Date } | undefined {
  if (changes.length < limit) return { changes, through: upTo };
  const last = (changes[changes.length - 1] as RecordedChange).changeTime.getTime();
  let end = changes.length;
  while (end > 0 && changes[end - 1]?.changeTime.getTime() === last) end--;
  if (end === 0) return undefined;
  return { changes: changes.slice(0, end), through: (changes[end - 1] as RecordedChange).changeTime };
}

import { describe, expect, it } from "vitest";
import type { RecordedChange } from "../../src/contacts/history-entry.js";
import { feedMessages, wholeTicks } from "../../src/feed/feed-messages.js";

const at = (ms: number) => new Date(ms);
const change = (tick: number, contactId: string): RecordedChange => ({
  contactId,
  kind: "updated",
  fields: [],
  changeTime: at(tick),
  seq: 0,
  principal: "p",
  requestId: null,
});
const shape = (messages: ReturnType<typeof feedMessages>) =>
  messages.map((m) => [m.changes.map((c) => `${c.changeTime.getTime()}${c.contactId}`), m.through.getTime()]);

describe("feedMessages", () => {
  const rows = [
    change(1, "a"),
    change(1, "b"),
    change(2, "c"),
    change(3, "d"),
    change(3, "e"),
    change(3, "f"),
  ];

  it("keeps whole ticks together, cutting between ticks once a message is full", () => {
    expect(shape(feedMessages(rows, at(0), at(5), 2))).toEqual([
      [["1a", "1b"], 1],
      [["2c"], 2],
      [["3d", "3e", "3f"], 5],
    ]);
    expect(shape(feedMessages(rows, at(0), at(3), 500))).toEqual([[["1a", "1b", "2c", "3d", "3e", "3f"], 3]]);
  });

  it("skips ticks at or before the watcher's position, and reaches the later of the position and upTo", () => {
    expect(shape(feedMessages(rows, at(2), at(3), 500))).toEqual([[["3d", "3e", "3f"], 3]]);
    expect(shape(feedMessages(rows, at(4), at(3), 500))).toEqual([]);
    expect(shape(feedMessages([], at(1), at(9), 500))).toEqual([[[], 9]]);
  });
});

describe("wholeTicks", () => {
  it("keeps everything from a read that was not cut short", () => {
    const rows = [change(1, "a"), change(2, "b")];
    expect(wholeTicks(rows, at(7), 3)).toEqual({ changes: rows, through: at(7) });
  });

  it("drops the last tick of a cut read, which may miss changes, and reaches the tick before it", () => {
    const rows = [change(1, "a"), change(2, "b"), change(2, "c")];
    expect(wholeTicks(rows, at(7), 3)).toEqual({ changes: rows.slice(0, 1), through: at(1) });
  });

  it("gives up on a cut read of a single tick: the caller reads that tick whole", () => {
    expect(wholeTicks([change(2, "b"), change(2, "c")], at(7), 2)).toBeUndefined();
  });
});

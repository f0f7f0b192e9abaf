import { ROUND_TRIP_BYTES, roundTrips } from "./batch-statements.js";

/** A statement as PipelinedTransaction queues it: SQL and its `?` parameters. */
export type Queued = readonly [string, readonly unknown[]];

/**
 * A writing transaction's last statements cut into round trips, COMMIT left to the caller (it ends the last
 * trip). Usually one trip: claims, the firm clock's tick, the writes, the tick read back. When they would not fit
 * one packet (a large batch's history rows), the claims go first in a trip of their own, then the writes in
 * trips of at most `budget` bytes, the first opening with the tick and the last closing with its read: the
 * firm's clock is then held for more than one round trip, by those transactions only. A single statement larger
 * than the budget gets a trip of its own.
 */
export function commitTrips(
  claims: readonly Queued[],
  tick: readonly Queued[],
  writes: readonly Queued[],
  readTick: Queued,
  budget = ROUND_TRIP_BYTES,
): Queued[][] {
  const all = [...claims, ...tick, ...writes, readTick];
  const asStatements = (queued: readonly Queued[]) => queued.map(([sql, params]) => ({ sql, params }));
  const trips = roundTrips(asStatements(all), budget);
  if (trips.length <= 1) return [all];
  const writeTrips = roundTrips(asStatements(writes), budget).map((trip) =>
    trip.map(({ sql, params }): Queued => [sql, params]),
  );
  const [first = [], ...rest] = writeTrips;
  const opening = [...tick, ...first];
  const middle = rest.slice(0, -1);
  const closing = rest.length > 0 ? [...(rest[rest.length - 1] ?? []), readTick] : null;
  return [
    ...(claims.length > 0 ? [[...claims]] : []),
    closing === null ? [...opening, readTick] : opening,
    ...middle,
    ...(closing === null ? [] : [closing]),
  ];
}

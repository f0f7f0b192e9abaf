/**
 * The benchmark's workload, pure and deterministic for a given seed: contacts with every field filled, spread
 * over several firms, mixed 50% new tracking ids (creates), 30% known tracking ids (updates) and 20% known
 * emails in another letter case without a tracking id (updates). "Known" contacts are the seed set that the
 * orchestrator inserts before the first row, so every update finds its contact from the first call on.
 */

import { DATA_FIELDS, type DataField } from "../src/contacts/fields.js";

/** An UpsertContactRequest as plain strings (its JSON field names); every field is filled. */
export type UpsertRequest = {
  readonly firmId: string;
  readonly trackingId?: string;
  readonly email: string;
} & Readonly<Record<DataField, string>>;

/** The data fields of a contact, in the service's own order. */
export const DATA_FIELD_NAMES: readonly DataField[] = DATA_FIELDS;

/** What a call is meant to do, and so what the service should answer. */
export type OpKind = "create" | "updateByTrackingId" | "updateByEmail";

export interface Op {
  readonly kind: OpKind;
  readonly request: UpsertRequest;
}

/** The shape of the seed data: firms and known contacts per firm. */
export interface WorkloadShape {
  readonly firms: number;
  readonly seedPerFirm: number;
}

/** The mix of the issue, as cumulative thresholds over [0, 1). */
const MIX: ReadonlyArray<readonly [number, OpKind]> = [
  [0.5, "create"],
  [0.8, "updateByTrackingId"],
  [1, "updateByEmail"],
];

export const firmId = (f: number): string => `bench-firm-${f}`;
export const seedTrackingId = (k: number): string => `seed-${k}`;
export const seedEmail = (f: number, k: number): string => `Seed.Contact${k}@Firm${f}.example.com`;

const NOTE =
  "Met at the spring conference; prefers email over phone.\nFollow up on the renewal in Q3 and send the updated price list.\tAsk about the second office.";

/** A contact's full field set; `n` varies phone, title and note, so an update really changes three fields. */
export function contactFields(
  f: number,
  k: number,
  n: number,
): Record<(typeof DATA_FIELD_NAMES)[number], string> {
  return {
    firstName: `Ann${k}`,
    lastName: `Lee-Firm${f}`,
    phone: `+1 555 ${String(n % 10_000).padStart(4, "0")}`,
    company: `Acme Holdings ${f}`,
    title: `Director ${n % 97}`,
    country: "United States",
    numberAndStreet: `${100 + (k % 900)} Market Street, Suite ${k % 50}`,
    city: "San Francisco",
    state: "California",
    zipCode: `94${String(k % 1000).padStart(3, "0")}`,
    prefix: "Dr.",
    suffix: "PhD",
    note: `${NOTE} #${n}`,
  };
}

/** The seed contact k of firm f, as the request that would create it. */
export function seedRequest(f: number, k: number): UpsertRequest {
  return {
    firmId: firmId(f),
    trackingId: seedTrackingId(k),
    email: seedEmail(f, k),
    ...contactFields(f, k, 0),
  };
}

/** mulberry32: a small, fast, seedable PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Swaps the letter case of every character: the same email to a case-insensitive collation. */
export const swapCase = (text: string): string =>
  [...text].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join("");

/**
 * An endless stream of operations for one worker (of one firm, when given, for batches). `token` makes the new tracking ids and emails of this
 * stream unique across workers, rows and runs on the same database.
 */
export function workload(shape: WorkloadShape, seed: number, token: string, firm?: number): () => Op {
  const random = prng(seed);
  let n = 0;
  return () => {
    n++;
    const anyFirm = Math.floor(random() * shape.firms);
    const f = firm ?? anyFirm; // a batch writes one firm
    const k = Math.floor(random() * shape.seedPerFirm);
    const roll = random();
    const kind = MIX.find(([threshold]) => roll < threshold)?.[1] ?? "create";
    switch (kind) {
      case "create":
        return {
          kind,
          request: {
            firmId: firmId(f),
            trackingId: `${token}-${n}`,
            email: `new.${token}.${n}@firm${f}.example.com`,
            ...contactFields(f, k, n),
          },
        };
      case "updateByTrackingId":
        return {
          kind,
          request: {
            firmId: firmId(f),
            trackingId: seedTrackingId(k),
            email: seedEmail(f, k),
            ...contactFields(f, k, n),
          },
        };
      case "updateByEmail":
        return {
          kind,
          request: { firmId: firmId(f), email: swapCase(seedEmail(f, k)), ...contactFields(f, k, n) },
        };
    }
  };
}

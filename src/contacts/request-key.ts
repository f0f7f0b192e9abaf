/** A claimed request id, as the store keeps it. */
export interface RequestKey {
  readonly firmId: string;
  readonly requestId: string;
  /** SHA-256 (hex) of the request's canonical form: the same request over any protocol has the same one. */
  readonly fingerprint: string;
  /** Hours the outcome is kept at least; then the background purge deletes it. */
  readonly ttlHours: number;
}

/** The outcome stored for a request id: the encoded value or error, and the tick its writes carried. */
export interface StoredOutcome {
  readonly fingerprint: string;
  readonly outcome: string;
  readonly tick: Date | null;
}

/** Who makes a write, as the change history records it. */
export interface Actor {
  /** The API key's name, or "anonymous" when the server does not require keys. */
  readonly principal: string;
  /** The call's request id (UpsertContact, BatchUpsertContacts), when it sent one. */
  readonly requestId: string | null;
}

/** The actor of a call made without an API key and without a request id. */
export const ANONYMOUS: Actor = { principal: "anonymous", requestId: null };

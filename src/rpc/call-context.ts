import { createContextKey, type StreamRequest, type UnaryRequest } from "@connectrpc/connect";
import type { Principal } from "../auth/api-keys.js";

/** The authenticated caller of a call, set by the auth interceptor; undefined when authentication is off. */
export const principalKey = createContextKey<Principal | undefined>(undefined, { description: "principal" });
/** The caller's address, "ip:port", taken from the socket. */
export const peerKey = createContextKey<string | undefined>(undefined, { description: "peer" });

/**
 * The request's firm id as sent (untrimmed, unvalidated), or undefined when the call is streaming or its message
 * has no non-empty string firmId. Read before the handler runs, by authorization and by the call log.
 */
export function requestFirmId(request: UnaryRequest | StreamRequest): string | undefined {
  const firmId = request.stream ? undefined : (request.message as { firmId?: unknown }).firmId;
  return typeof firmId === "string" && firmId !== "" ? firmId : undefined;
}

/** When the call's request arrived (performance.now()), before its body was read: calls are timed from here. */
export const receivedAtKey = createContextKey<number | undefined>(undefined, { description: "received at" });

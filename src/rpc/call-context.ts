import { createContextKey } from "@connectrpc/connect";
import type { Principal } from "../auth/api-keys.js";

/** The authenticated caller of a call, set by the auth interceptor; undefined when authentication is off. */
export const principalKey = createContextKey<Principal | undefined>(undefined, { description: "principal" });
/** The caller's address, "ip:port", taken from the socket. */
export const peerKey = createContextKey<string | undefined>(undefined, { description: "peer" });

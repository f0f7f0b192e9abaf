import { createHash, timingSafeEqual } from "node:crypto";

/** A caller, as the API keys file names it, and the firms it may read and write ("*" for all). */
export interface Principal {
  readonly name: string;
  readonly firms: readonly string[];
}

/** One entry of the API keys file. */
export interface ApiKey extends Principal {
  readonly sha256: Buffer;
}

/** Finds the principal of an `authorization` header value, or undefined for a missing or unknown token. */
export type Authenticate = (authorization: string | null) => Principal | undefined;

/** True when the principal may act on the firm. */
export const grantsFirm = (principal: Principal, firmId: string): boolean =>
  principal.firms.includes("*") || principal.firms.includes(firmId);

/**
 * Parses the API keys file: `[{"name": "crm-sync", "sha256": "<hex sha256 of the token>", "firms": ["acme"]}]`.
 * The file holds hashes only, never tokens. Throws one message listing every problem, an empty list included.
 */
export function parseApiKeys(text: string): ApiKey[] {
  let entries: unknown;
  try {
    entries = JSON.parse(text);
  } catch (error) {
    throw new Error(`is not JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(entries)) throw new Error("must hold a JSON array of keys");
  // An empty list would start a server that refuses every call, silently.
  if (entries.length === 0) throw new Error("holds no keys: list at least one, or unset API_KEYS_FILE");
  const problems: string[] = [];
  const keys = entries.map((entry: unknown, i): ApiKey => {
    const { name, sha256, firms } = (entry ?? {}) as Record<string, unknown>;
    if (typeof name !== "string" || name.trim() === "")
      problems.push(`[${i}].name must be a non-empty string`);
    if (typeof sha256 !== "string" || !/^[0-9a-fA-F]{64}$/.test(sha256)) {
      problems.push(`[${i}].sha256 must be the 64 hex digits of the token's SHA-256`);
    }
    const firmList =
      Array.isArray(firms) && firms.every((f) => typeof f === "string" && f !== "") ? firms : undefined;
    if (!firmList || firmList.length === 0)
      problems.push(`[${i}].firms must be a non-empty array of firm ids or ["*"]`);
    return {
      name: String(name),
      sha256: Buffer.from(String(sha256), "hex"),
      firms: Object.freeze([...(firmList ?? [])]) as string[],
    };
  });
  const hashes = keys.map((k) => k.sha256.toString("hex").toLowerCase());
  if (new Set(hashes).size !== hashes.length) problems.push("two keys have the same sha256");
  if (problems.length > 0) throw new Error(problems.join("; "));
  return keys;
}

/**
 * Authenticates `Bearer <token>` against the keys by the token's SHA-256, comparing with every key in constant
 * time, so neither a match nor its position shows in the timing.
 */
export function createAuthenticator(keys: readonly ApiKey[]): Authenticate {
  return (authorization) => {
    const token = /^Bearer +(\S+) *$/i.exec(authorization ?? "")?.[1];
    if (token === undefined) return undefined;
    const digest = createHash("sha256").update(token, "utf8").digest();
    let found: ApiKey | undefined;
    for (const key of keys) {
      if (timingSafeEqual(digest, key.sha256) && found === undefined) found = key;
    }
    return found && { name: found.name, firms: found.firms };
  };
}

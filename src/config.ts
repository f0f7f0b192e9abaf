import { readFileSync } from "node:fs";
import { type ApiKey, parseApiKeys } from "./auth/api-keys.js";
import { parseDatabaseUrl } from "./db/database.js";
import { ANY_HOST, defaultAllowedHosts } from "./http/allowed-hosts.js";
import { readTracingConfig, type TracingConfig } from "./tracing/tracing-config.js";

/** The smallest RESPONSE_MAX_BYTES: above the largest single contact or change (about 0.8 MB) with its page. */
export const MIN_RESPONSE_MAX_BYTES = 1_048_576;

/** Every setting of the service, read from the environment once at startup. */
export interface Config {
  readonly host: string;
  readonly port: number;
  readonly databaseUrl: string;
  readonly dbPoolSize: number;
  readonly dbConnectTimeoutMs: number;
  /** Longest a call waits for a database connection before it is shed with UNAVAILABLE. */
  readonly dbQueueTimeoutMs: number;
  /** Most calls waiting for a database connection at once; more are shed with UNAVAILABLE at once. */
  readonly dbQueueLimit: number;
  /**
   * DB_PIPELINE: whether a transaction's statements share packets (auto: yes on a single server, no on a detected
   * Galera cluster, where that loses acknowledged writes; on/off force it). See docs/galera.md.
   */
  readonly dbPipeline: "auto" | "on" | "off";
  /** Most calls of one firm using or waiting for the database; more are refused with RESOURCE_EXHAUSTED. */
  readonly firmMaxInFlight: number;
  /** Most waiting single upserts of one firm run together in one transaction; 1 turns coalescing off. */
  readonly coalesceMaxUpserts: number;
  readonly maxRequestBytes: number;
  readonly maxTimeoutMs: number;
  readonly shutdownGraceMs: number;
  readonly requestReadTimeoutMs: number;
  readonly logLevel: LogLevel;
  /** Browser origins allowed to call the service (CORS), each `scheme://host[:port]`; none by default. */
  readonly corsOrigins: readonly string[];
  /** JSON file of API keys (name, token SHA-256, firms); when set, ContactService calls need a bearer token. */
  readonly apiKeysFile: string | undefined;
  /** The keys read from API_KEYS_FILE, checked at startup; undefined when it is not set. */
  readonly apiKeys: readonly ApiKey[] | undefined;
  /** HTTP/2 streams one connection may have open at once, advertised as SETTINGS_MAX_CONCURRENT_STREAMS. */
  readonly maxConcurrentStreams: number;
  /** An HTTP/2 connection without traffic this long gets GOAWAY, which also ends its Health/Watch streams. */
  readonly idleTimeoutMs: number;
  /** AUTH=disabled: serve without authentication even on a non-loopback address, on purpose. */
  readonly authDisabled: boolean;
  /**
   * Days a deleted contact's tombstone (and its change history) is kept for ListContacts' show_deleted and
   * ListContactChanges before it is purged.
   */
  readonly tombstoneRetentionDays: number;
  /** Hours a request id's first outcome is kept at least (then purged in the background). */
  readonly requestIdTtlHours: number;
  /**
   * Without API keys, the Host names (no port) served; others are refused, against DNS rebinding. "*" serves any.
   * Default: the loopback names and HOST.
   */
  readonly allowedHosts: readonly string[];
  /**
   * The largest answer a call gets, encoded: pages of ListContacts and ListContactChanges stop before it, and a
   * batch's answer trims its contacts to stay within it. Default 4 MiB, what gRPC clients accept by default.
   */
  readonly responseMaxBytes: number;
  /** Stored bytes all pages being read at once may hold; a page waits for its share (its deadline applies). */
  readonly readsMaxBytes: number;
  /**
   * Bytes of request bodies read and decoded at once by this instance; a call that does not fit is refused with
   * RESOURCE_EXHAUSTED and a RetryInfo detail before its body is read.
   */
  readonly decodeMaxBytes: number;
  /** A connection that has not completed a request this long after it was accepted is closed. */
  readonly connectionFirstRequestMs: number;
  /** Most connections open at once; undefined: half the file-descriptor soft limit, read at start. */
  readonly maxConnections: number | undefined;
  /** Health/Watch streams one connection may hold open. */
  readonly maxWatchesPerConnection: number;
  /** Health/Watch streams one client address may hold open over all its connections. */
  readonly maxWatchesPerAddress: number;
  /** Health/Watch streams the server holds open in all. */
  readonly maxWatches: number;
  /** On SIGTERM/SIGINT, how long the listener keeps accepting (health already NOT_SERVING) before it closes. */
  readonly shutdownAcceptMs: number;
  /** Time between two polls of the watched firms' clocks by the change feed (WatchContactChanges). */
  readonly feedPollMs: number;
  /** Longest a watch stream goes without a message before an empty one (a heartbeat) is sent. */
  readonly feedHeartbeatMs: number;
  /** Watch streams this instance holds open at once; more are refused with RESOURCE_EXHAUSTED. */
  readonly feedMaxStreams: number;
  /** Watch streams of one firm on this instance; more are refused with RESOURCE_EXHAUSTED. */
  readonly feedMaxFirmStreams: number;
  /** Changes a watch stream may have waiting for a slow reader; past it the stream ends (resumable). */
  readonly feedMaxBacklog: number;
  /** OpenTelemetry tracing from the standard OTEL_* variables (docs/tracing.md); undefined when off. */
  readonly otel: TracingConfig | undefined;
}

export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A setting that failed validation, with every bad key named. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration: ${problems.join("; ")}`);
    this.name = "ConfigError";
  }
}

const DEFAULT_HOST = "127.0.0.1";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Parses and validates the environment into a frozen Config. Throws one ConfigError naming every bad key, so
 * an operator fixes them all in one go.
 */
export function loadConfig(env: Env): Config {
  const problems: string[] = [];
  const read = <T>(key: string, fallback: T, parse: (raw: string) => T): T => {
    const raw = env[key];
    if (raw === undefined || raw === "") return fallback;
    try {
      return parse(raw.trim());
    } catch (error) {
      problems.push(
        `${key}=${JSON.stringify(key === "DATABASE_URL" ? redact(raw) : raw)} ${(error as Error).message}`,
      );
      return fallback;
    }
  };
  const config: Config = {
    host: read("HOST", DEFAULT_HOST, (raw) => raw),
    port: read("PORT", 8080, integer(0, 65_535)),
    databaseUrl: read("DATABASE_URL", "mysql://root@127.0.0.1:3306/contacts", (raw) => {
      parseDatabaseUrl(raw);
      return raw;
    }),
    dbPoolSize: read("DB_POOL_SIZE", 10, integer(1, 1_000)),
    dbConnectTimeoutMs: read("DB_CONNECT_TIMEOUT_MS", 5_000, integer(100, 120_000)),
    dbQueueTimeoutMs: read("DB_QUEUE_TIMEOUT_MS", 3_000, integer(10, 600_000)),
    dbQueueLimit: read("DB_QUEUE_LIMIT", 1_000, integer(1, 1_000_000)),
    dbPipeline: read("DB_PIPELINE", "auto" as const, (raw) => {
      if (raw !== "auto" && raw !== "on" && raw !== "off") throw new Error("must be auto, on or off");
      return raw;
    }),
    firmMaxInFlight: read("FIRM_MAX_IN_FLIGHT", 64, integer(1, 1_000_000)),
    coalesceMaxUpserts: read("COALESCE_MAX_UPSERTS", 100, integer(1, 1_000)),
    maxRequestBytes: read("MAX_REQUEST_BYTES", 50_331_648, integer(1_024, 67_108_864)),
    maxTimeoutMs: read("MAX_TIMEOUT_MS", 30_000, integer(100, 600_000)),
    shutdownGraceMs: read("SHUTDOWN_GRACE_MS", 10_000, integer(0, 600_000)),
    requestReadTimeoutMs: read("REQUEST_READ_TIMEOUT_MS", 15_000, integer(100, 600_000)),
    logLevel: read("LOG_LEVEL", "info", (raw) => {
      if (!(LOG_LEVELS as readonly string[]).includes(raw))
        throw new Error(`must be one of ${LOG_LEVELS.join(", ")}`);
      return raw as LogLevel;
    }),
    corsOrigins: read("CORS_ORIGINS", [], origins),
    apiKeysFile: read<string | undefined>("API_KEYS_FILE", undefined, (raw) => raw),
    apiKeys: read<readonly ApiKey[] | undefined>("API_KEYS_FILE", undefined, readApiKeys),
    // grpc-go's default; enough for any client's concurrency on one connection.
    maxConcurrentStreams: read("MAX_CONCURRENT_STREAMS", 100, integer(1, 10_000)),
    idleTimeoutMs: read("IDLE_TIMEOUT_MS", 120_000, integer(1_000, 3_600_000)),
    authDisabled: read("AUTH", false, (raw) => {
      if (raw !== "disabled" && raw !== "enabled") throw new Error("must be enabled or disabled");
      return raw === "disabled";
    }),
    tombstoneRetentionDays: read("TOMBSTONE_RETENTION_DAYS", 30, integer(1, 36_500)),
    requestIdTtlHours: read("REQUEST_ID_TTL_HOURS", 24, integer(1, 8_760)),
    allowedHosts: read("ALLOWED_HOSTS", defaultAllowedHosts(env.HOST?.trim() || DEFAULT_HOST), hostNames),
    // The floor holds the largest contact or change there can be (encoded-size.ts), so every item fits a page.
    responseMaxBytes: read("RESPONSE_MAX_BYTES", 4_194_304, integer(MIN_RESPONSE_MAX_BYTES, 67_108_864)),
    readsMaxBytes: read("READS_MAX_BYTES", 8_388_608, integer(MIN_RESPONSE_MAX_BYTES, 4_294_967_296)),
    // Four bodies of the default MAX_REQUEST_BYTES (48 MiB, about one maximum batch): 192 MiB.
    decodeMaxBytes: read("DECODE_MAX_BYTES", 201_326_592, integer(1_024, 4_294_967_296)),
    connectionFirstRequestMs: read("CONNECTION_FIRST_REQUEST_MS", 10_000, integer(100, 600_000)),
    maxConnections: read<number | undefined>("MAX_CONNECTIONS", undefined, integer(1, 1_000_000)),
    maxWatchesPerConnection: read("MAX_WATCHES_PER_CONNECTION", 16, integer(1, 10_000)),
    // A tenth of all: one client (or a proxy in front of many) cannot take every Watch slot.
    maxWatchesPerAddress: read("MAX_WATCHES_PER_ADDRESS", 100, integer(1, 1_000_000)),
    maxWatches: read("MAX_WATCHES", 1_000, integer(1, 1_000_000)),
    shutdownAcceptMs: read("SHUTDOWN_ACCEPT_MS", 1_000, integer(0, 60_000)),
    feedPollMs: read("FEED_POLL_MS", 100, integer(10, 60_000)),
    feedHeartbeatMs: read("FEED_HEARTBEAT_MS", 15_000, integer(100, 3_600_000)),
    feedMaxStreams: read("FEED_MAX_STREAMS", 1_000, integer(1, 100_000)),
    feedMaxFirmStreams: read("FEED_MAX_FIRM_STREAMS", 100, integer(1, 100_000)),
    feedMaxBacklog: read("FEED_MAX_BACKLOG", 10_000, integer(1, 10_000_000)),
    otel: readTracingConfig(env, problems),
  };
  // Overload must be shed before a call's deadline: an explicit queue timeout must be shorter than the longest
  // call, and the default is at most half of it.
  const queueTimeoutSet = (env.DB_QUEUE_TIMEOUT_MS ?? "") !== "";
  if (queueTimeoutSet && config.dbQueueTimeoutMs >= config.maxTimeoutMs) {
    problems.push(
      `DB_QUEUE_TIMEOUT_MS=${config.dbQueueTimeoutMs} must be shorter than MAX_TIMEOUT_MS=${config.maxTimeoutMs}, so that an overloaded call is shed with UNAVAILABLE before its deadline`,
    );
  }
  if (config.readsMaxBytes < config.responseMaxBytes) {
    problems.push(
      `READS_MAX_BYTES=${config.readsMaxBytes} must be at least RESPONSE_MAX_BYTES=${config.responseMaxBytes}, so that a full page can be read`,
    );
  }
  if (config.authDisabled && config.apiKeysFile !== undefined) {
    problems.push("AUTH=disabled contradicts API_KEYS_FILE: set one or the other");
  }
  if (!config.authDisabled && config.apiKeysFile === undefined && !isLoopback(config.host)) {
    problems.push(
      `HOST=${JSON.stringify(config.host)} is not a loopback address and API_KEYS_FILE is not set: every caller would be unauthenticated. Set API_KEYS_FILE, or AUTH=disabled to serve without authentication on purpose`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(
    queueTimeoutSet
      ? config
      : {
          ...config,
          dbQueueTimeoutMs: Math.min(config.dbQueueTimeoutMs, Math.floor(config.maxTimeoutMs / 2)),
        },
  );
}

/** Reads and checks the API keys file, so its problems are reported with every other bad setting. */
function readApiKeys(path: string): readonly ApiKey[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new Error(`cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  return Object.freeze(parseApiKeys(text));
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function integer(min: number, max: number) {
  return (raw: string): number => {
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      throw new Error(`must be a whole number from ${min} to ${max}`);
    }
    return Number(raw);
  };
}

/** A comma-separated list of origins; every entry must be exactly what a browser sends in its Origin header. */
function origins(raw: string): readonly string[] {
  const list = raw
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  const bad = list.filter((entry) => !isOrigin(entry));
  if (bad.length > 0) {
    throw new Error(
      `lists ${bad.map((entry) => JSON.stringify(entry)).join(", ")}: each entry must be an origin like https://app.example.com or http://localhost:5173 (scheme, host, optional port; no path, no trailing slash)`,
    );
  }
  return Object.freeze([...new Set(list)]);
}

function isOrigin(text: string): boolean {
  try {
    const url = new URL(text);
    // URL normalises case, default ports and paths; a browser's Origin header is always that normal form.
    return (url.protocol === "http:" || url.protocol === "https:") && url.origin === text;
  } catch {
    return false;
  }
}

/** A comma-separated list of Host names without ports: DNS names, IPv4 addresses, IPv6 ones in brackets, or "*". */
function hostNames(raw: string): readonly string[] {
  const list = raw
    .split(",")
    .map((entry) => entry.trim().toLowerCase())
    .filter((entry) => entry !== "");
  const bad = list.filter(
    (entry) =>
      entry !== ANY_HOST && !/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(entry) && !/^\[[0-9a-f:.]+\]$/.test(entry),
  );
  if (bad.length > 0 || list.length === 0) {
    throw new Error(
      `lists ${bad.map((entry) => JSON.stringify(entry)).join(", ") || "no name"}: each entry must be a host name as a Host header carries it, without scheme or port (api.example.com, 10.0.0.5, [fd00::5]), or * for any`,
    );
  }
  return Object.freeze([...new Set(list)]);
}

/** Hides the password of a URL-like value, even one too malformed to parse (the last @ ends the user info). */
function redact(url: string): string {
  const start = url.indexOf("//") + 2;
  const end = url.lastIndexOf("@");
  if (start < 2 || end < start) return url;
  const colon = url.indexOf(":", start);
  return colon === -1 || colon > end ? url : `${url.slice(0, colon)}:***${url.slice(end)}`;
}

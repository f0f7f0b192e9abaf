import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

// API_KEYS_FILE is read and checked by loadConfig: the tests write their keys files here.
const keysDir = mkdtempSync(join(tmpdir(), "contacts-config-"));
afterAll(() => rmSync(keysDir, { recursive: true, force: true }));
function keysFile(name: string, content: string): string {
  const path = join(keysDir, name);
  writeFileSync(path, content);
  return path;
}
const goodKeys = () =>
  keysFile(
    "keys.json",
    JSON.stringify([{ name: "crm", sha256: createHash("sha256").update("t").digest("hex"), firms: ["*"] }]),
  );

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe("loadConfig", () => {
  const defaults = {
    host: "127.0.0.1",
    port: 8080,
    databaseUrl: "mysql://root@127.0.0.1:3306/contacts",
    dbPoolSize: 10,
    dbConnectTimeoutMs: 5_000,
    dbQueueTimeoutMs: 3_000,
    dbQueueLimit: 1_000,
    dbPipeline: "auto",
    firmMaxInFlight: 64,
    coalesceMaxUpserts: 100,
    maxRequestBytes: 50_331_648,
    maxTimeoutMs: 30_000,
    shutdownGraceMs: 10_000,
    requestReadTimeoutMs: 15_000,
    logLevel: "info",
    corsOrigins: [],
    authDisabled: false,
    maxConcurrentStreams: 100,
    idleTimeoutMs: 120_000,
    tombstoneRetentionDays: 30,
    requestIdTtlHours: 24,
    allowedHosts: ["localhost", "127.0.0.1", "[::1]"],
    responseMaxBytes: 4_194_304,
    readsMaxBytes: 8_388_608,
    decodeMaxBytes: 201_326_592,
    connectionFirstRequestMs: 10_000,
    maxConnections: undefined,
    maxWatchesPerConnection: 16,
    maxWatchesPerAddress: 100,
    maxWatches: 1_000,
    shutdownAcceptMs: 1_000,
    feedPollMs: 100,
    feedHeartbeatMs: 15_000,
    feedMaxStreams: 1_000,
    feedMaxFirmStreams: 100,
    feedMaxBacklog: 10_000,
  };

  it("when the environment is empty, every setting takes its default", () => {
    expect(loadConfig({})).toEqual(defaults);
  });

  it("when a key is set to the empty string, it takes its default", () => {
    expect(loadConfig({ PORT: "", LOG_LEVEL: "", DATABASE_URL: "" })).toEqual(defaults);
  });

  it("ignores keys it does not know", () => {
    expect(loadConfig({ PATH: "/usr/bin", NODE_ENV: "production" })).toEqual(defaults);
  });

  it("returns a frozen object", () => {
    expect(Object.isFrozen(loadConfig({}))).toBe(true);
  });

  it("reads every key, trimming surrounding whitespace from numbers", () => {
    expect(
      loadConfig({
        HOST: "0.0.0.0",
        PORT: " 9090 ",
        DATABASE_URL: "mariadb://app:pw@db.internal:3307/contacts_prod",
        DB_POOL_SIZE: "20",
        DB_CONNECT_TIMEOUT_MS: "100",
        DB_QUEUE_TIMEOUT_MS: "250",
        DB_QUEUE_LIMIT: "50",
        FIRM_MAX_IN_FLIGHT: "8",
        COALESCE_MAX_UPSERTS: "1",
        MAX_REQUEST_BYTES: "1024",
        MAX_TIMEOUT_MS: "600000",
        SHUTDOWN_GRACE_MS: "0",
        REQUEST_READ_TIMEOUT_MS: "2000",
        LOG_LEVEL: "debug",
        API_KEYS_FILE: goodKeys(),
        MAX_CONCURRENT_STREAMS: "7",
        IDLE_TIMEOUT_MS: "5000",
        TOMBSTONE_RETENTION_DAYS: " 7 ",
        REQUEST_ID_TTL_HOURS: "48",
        ALLOWED_HOSTS: " API.example.com, 10.0.0.5,[fd00::5] ,",
        DECODE_MAX_BYTES: "1048576",
        CONNECTION_FIRST_REQUEST_MS: "250",
        MAX_CONNECTIONS: "300",
        MAX_WATCHES_PER_CONNECTION: "4",
        MAX_WATCHES_PER_ADDRESS: "8",
        MAX_WATCHES: "20",
        SHUTDOWN_ACCEPT_MS: "0",
        FEED_POLL_MS: "20",
        FEED_HEARTBEAT_MS: "1000",
        FEED_MAX_STREAMS: "50",
        FEED_MAX_FIRM_STREAMS: "5",
        FEED_MAX_BACKLOG: "200",
      }),
    ).toMatchObject({
      host: "0.0.0.0",
      port: 9090,
      databaseUrl: "mariadb://app:pw@db.internal:3307/contacts_prod",
      dbPoolSize: 20,
      dbConnectTimeoutMs: 100,
      dbQueueTimeoutMs: 250,
      dbQueueLimit: 50,
      firmMaxInFlight: 8,
      coalesceMaxUpserts: 1,
      maxRequestBytes: 1024,
      maxTimeoutMs: 600_000,
      shutdownGraceMs: 0,
      requestReadTimeoutMs: 2_000,
      logLevel: "debug",
      corsOrigins: [],
      apiKeysFile: join(keysDir, "keys.json"),
      apiKeys: [expect.objectContaining({ name: "crm", firms: ["*"] })],
      authDisabled: false,
      maxConcurrentStreams: 7,
      idleTimeoutMs: 5_000,
      tombstoneRetentionDays: 7,
      requestIdTtlHours: 48,
      allowedHosts: ["api.example.com", "10.0.0.5", "[fd00::5]"],
      decodeMaxBytes: 1_048_576,
      connectionFirstRequestMs: 250,
      maxConnections: 300,
      maxWatchesPerConnection: 4,
      maxWatchesPerAddress: 8,
      maxWatches: 20,
      shutdownAcceptMs: 0,
      feedPollMs: 20,
      feedHeartbeatMs: 1_000,
      feedMaxStreams: 50,
      feedMaxFirmStreams: 5,
      feedMaxBacklog: 200,
    });
  });

  describe("ALLOWED_HOSTS", () => {
    it("defaults to the loopback names and HOST (an IPv6 one in brackets)", () => {
      expect(loadConfig({ HOST: "::1" }).allowedHosts).toEqual(["localhost", "127.0.0.1", "[::1]"]);
      expect(loadConfig({ HOST: "10.1.2.3", AUTH: "disabled" }).allowedHosts).toEqual([
        "localhost",
        "127.0.0.1",
        "[::1]",
        "10.1.2.3",
      ]);
      expect(loadConfig({ HOST: "fd00::7", AUTH: "disabled" }).allowedHosts).toContain("[fd00::7]");
    });

    it("takes * for any host", () => {
      expect(loadConfig({ ALLOWED_HOSTS: "*" }).allowedHosts).toEqual(["*"]);
    });

    it("refuses entries with a scheme, a port, a path or an unbracketed IPv6 address, naming each", () => {
      const error = configError({
        ALLOWED_HOSTS: "ok.example.com,http://a.example.com,b.example.com:80,::1",
      });
      expect(error.problems).toHaveLength(1);
      expect(error.message).toMatch(
        /ALLOWED_HOSTS=.* lists "http:\/\/a\.example\.com", "b\.example\.com:80", "::1": each entry must be a host name/,
      );
      expect(configError({ ALLOWED_HOSTS: " , " }).message).toMatch(/ALLOWED_HOSTS=.* lists no name/);
    });
  });

  describe("API_KEYS_FILE", () => {
    it("holding no keys refuses to start: a server refusing every call would be silent", () => {
      const path = keysFile("empty.json", "[]");
      expect(configError({ API_KEYS_FILE: path }).problems).toEqual([
        `API_KEYS_FILE=${JSON.stringify(path)} holds no keys: list at least one, or unset API_KEYS_FILE`,
      ]);
    });

    it("reports its problems in the one message with every other bad setting", () => {
      const path = keysFile("bad.json", JSON.stringify([{ name: "", sha256: "x", firms: [] }]));
      const missing = join(keysDir, "missing.json");
      const error = configError({ API_KEYS_FILE: path, PORT: "x" });
      expect(error.problems.map((problem) => problem.split("=")[0])).toEqual(["PORT", "API_KEYS_FILE"]);
      expect(error.message).toMatch(/\[0\]\.name must be.*\[0\]\.sha256 must be.*\[0\]\.firms must be/);
      expect(configError({ API_KEYS_FILE: missing }).problems).toEqual([
        `API_KEYS_FILE=${JSON.stringify(missing)} cannot be read: ENOENT`,
      ]);
      expect(configError({ API_KEYS_FILE: keysFile("text.json", "not json") }).message).toMatch(
        /API_KEYS_FILE=.* is not JSON/,
      );
    });
  });

  describe("authentication", () => {
    it("on a loopback address without API keys, serves open", () => {
      for (const HOST of ["127.0.0.1", "127.8.9.10", "::1", "localhost"]) {
        expect(loadConfig({ HOST })).toMatchObject({ apiKeysFile: undefined, authDisabled: false });
      }
    });

    it("on any other address without API keys, refuses to start unless AUTH=disabled", () => {
      expect(() => loadConfig({ HOST: "0.0.0.0" })).toThrow(
        /HOST="0.0.0.0" is not a loopback address.*API_KEYS_FILE/,
      );
      expect(loadConfig({ HOST: "0.0.0.0", AUTH: "disabled" }).authDisabled).toBe(true);
    });

    it("rejects AUTH values other than enabled or disabled, and AUTH=disabled with API_KEYS_FILE", () => {
      expect(() => loadConfig({ AUTH: "off" })).toThrow(/AUTH="off" must be enabled or disabled/);
      expect(() => loadConfig({ AUTH: "disabled", API_KEYS_FILE: "k.json" })).toThrow(/contradicts/);
    });
  });

  it("refuses a DB_QUEUE_TIMEOUT_MS that is not shorter than MAX_TIMEOUT_MS, so overload is shed before the deadline", () => {
    expect(configError({ DB_QUEUE_TIMEOUT_MS: "5000", MAX_TIMEOUT_MS: "5000" }).problems).toEqual([
      "DB_QUEUE_TIMEOUT_MS=5000 must be shorter than MAX_TIMEOUT_MS=5000, so that an overloaded call is shed with UNAVAILABLE before its deadline",
    ]);
    expect(loadConfig({ DB_QUEUE_TIMEOUT_MS: "4999", MAX_TIMEOUT_MS: "5000" }).dbQueueTimeoutMs).toBe(4_999);
  });

  it("defaults DB_QUEUE_TIMEOUT_MS to at most half of MAX_TIMEOUT_MS, so a short MAX_TIMEOUT_MS alone is valid", () => {
    expect(loadConfig({ MAX_TIMEOUT_MS: "300" }).dbQueueTimeoutMs).toBe(150);
    expect(loadConfig({ MAX_TIMEOUT_MS: "600000" }).dbQueueTimeoutMs).toBe(3_000);
  });

  it("refuses a READS_MAX_BYTES below RESPONSE_MAX_BYTES, which could never admit a full page", () => {
    expect(configError({ RESPONSE_MAX_BYTES: "33554432" }).problems).toEqual([
      "READS_MAX_BYTES=8388608 must be at least RESPONSE_MAX_BYTES=33554432, so that a full page can be read",
    ]);
    const config = loadConfig({ RESPONSE_MAX_BYTES: "8388608", READS_MAX_BYTES: "8388608" });
    expect([config.responseMaxBytes, config.readsMaxBytes]).toEqual([8_388_608, 8_388_608]);
  });

  it("accepts port 0 (any free port) and 65535", () => {
    expect(loadConfig({ PORT: "0" }).port).toBe(0);
    expect(loadConfig({ PORT: "65535" }).port).toBe(65_535);
  });

  it.each([
    ["PORT", "65536", "must be a whole number from 0 to 65535"],
    ["PORT", "-1", "must be a whole number from 0 to 65535"],
    ["PORT", "80.5", "must be a whole number from 0 to 65535"],
    ["PORT", "http", "must be a whole number from 0 to 65535"],
    ["PORT", "1e3", "must be a whole number from 0 to 65535"],
    ["DB_POOL_SIZE", "0", "must be a whole number from 1 to 1000"],
    ["DB_POOL_SIZE", "1001", "must be a whole number from 1 to 1000"],
    ["DB_CONNECT_TIMEOUT_MS", "99", "must be a whole number from 100 to 120000"],
    ["DB_QUEUE_TIMEOUT_MS", "9", "must be a whole number from 10 to 600000"],
    ["DB_QUEUE_LIMIT", "0", "must be a whole number from 1 to 1000000"],
    ["FIRM_MAX_IN_FLIGHT", "0", "must be a whole number from 1 to 1000000"],
    ["COALESCE_MAX_UPSERTS", "1001", "must be a whole number from 1 to 1000"],
    ["MAX_REQUEST_BYTES", "1023", "must be a whole number from 1024 to 67108864"],
    ["MAX_TIMEOUT_MS", "600001", "must be a whole number from 100 to 600000"],
    ["SHUTDOWN_GRACE_MS", "ten", "must be a whole number from 0 to 600000"],
    ["MAX_CONCURRENT_STREAMS", "0", "must be a whole number from 1 to 10000"],
    ["IDLE_TIMEOUT_MS", "999", "must be a whole number from 1000 to 3600000"],
    ["TOMBSTONE_RETENTION_DAYS", "0", "must be a whole number from 1 to 36500"],
    ["TOMBSTONE_RETENTION_DAYS", "30d", "must be a whole number from 1 to 36500"],
    ["REQUEST_ID_TTL_HOURS", "0", "must be a whole number from 1 to 8760"],
    ["REQUEST_ID_TTL_HOURS", "24h", "must be a whole number from 1 to 8760"],
    ["RESPONSE_MAX_BYTES", "1048575", "must be a whole number from 1048576 to 67108864"],
    ["RESPONSE_MAX_BYTES", "4MiB", "must be a whole number from 1048576 to 67108864"],
    ["READS_MAX_BYTES", "1048575", "must be a whole number from 1048576 to 4294967296"],
    ["DECODE_MAX_BYTES", "1023", "must be a whole number from 1024 to 4294967296"],
    ["DECODE_MAX_BYTES", "192MiB", "must be a whole number from 1024 to 4294967296"],
    ["CONNECTION_FIRST_REQUEST_MS", "99", "must be a whole number from 100 to 600000"],
    ["MAX_CONNECTIONS", "0", "must be a whole number from 1 to 1000000"],
    ["MAX_WATCHES_PER_CONNECTION", "0", "must be a whole number from 1 to 10000"],
    ["MAX_WATCHES_PER_ADDRESS", "-1", "must be a whole number from 1 to 1000000"],
    ["MAX_WATCHES", "many", "must be a whole number from 1 to 1000000"],
    ["SHUTDOWN_ACCEPT_MS", "60001", "must be a whole number from 0 to 60000"],
    ["FEED_POLL_MS", "9", "must be a whole number from 10 to 60000"],
    ["FEED_HEARTBEAT_MS", "15s", "must be a whole number from 100 to 3600000"],
    ["FEED_MAX_STREAMS", "0", "must be a whole number from 1 to 100000"],
    ["FEED_MAX_FIRM_STREAMS", "0", "must be a whole number from 1 to 100000"],
    ["FEED_MAX_BACKLOG", "0", "must be a whole number from 1 to 10000000"],
    ["DB_PIPELINE", "yes", "must be auto, on or off"],
    ["LOG_LEVEL", "verbose", "must be one of debug, info, warn, error, silent"],
    ["LOG_LEVEL", "INFO", "must be one of debug, info, warn, error, silent"],
    ["DATABASE_URL", "not a url", "is not a URL like mysql://user:password@host:3306/database"],
    ["DATABASE_URL", "postgres://db/contacts", "must start with mysql:// or mariadb://"],
    ["DATABASE_URL", "mysql://db:3306/", "must name a database (letters, digits, _ or $)"],
  ])("when %s is %j, it is reported by name with the reason", (key, value, reason) => {
    const error = configError({ [key]: value });
    expect(error.problems).toEqual([`${key}=${JSON.stringify(value)} ${reason}`]);
    expect(error.message).toBe(`invalid configuration: ${key}=${JSON.stringify(value)} ${reason}`);
    expect(error.name).toBe("ConfigError");
  });

  it("when several keys are bad, one ConfigError names every one of them", () => {
    const error = configError({
      PORT: "x",
      DATABASE_URL: "postgres://db/contacts",
      DB_POOL_SIZE: "0",
      DB_CONNECT_TIMEOUT_MS: "0",
      MAX_REQUEST_BYTES: "0",
      MAX_TIMEOUT_MS: "0",
      SHUTDOWN_GRACE_MS: "-5",
      LOG_LEVEL: "loud",
    });
    expect(error.problems.map((problem) => problem.split("=")[0])).toEqual([
      "PORT",
      "DATABASE_URL",
      "DB_POOL_SIZE",
      "DB_CONNECT_TIMEOUT_MS",
      "MAX_REQUEST_BYTES",
      "MAX_TIMEOUT_MS",
      "SHUTDOWN_GRACE_MS",
      "LOG_LEVEL",
    ]);
    for (const key of ["PORT", "DATABASE_URL", "LOG_LEVEL", "SHUTDOWN_GRACE_MS"]) {
      expect(error.message).toContain(`${key}=`);
    }
  });

  it("when one key is bad, the good ones are not reported", () => {
    expect(configError({ PORT: "9090", LOG_LEVEL: "loud", DB_POOL_SIZE: "5" }).problems).toHaveLength(1);
  });
});

describe("loadConfig: the database password is never echoed", () => {
  it.each([
    ["a bad database name", "mysql://app:s3cret-pw@db:3306/bad-name"],
    ["a bad port", "mysql://app:s3cret-pw@db:99999/contacts"],
    ["a bad scheme", "postgres://app:s3cret-pw@db:3306/contacts"],
    ["no user name", "mysql://:s3cret-pw@db:3306/bad-name"],
    ["surrounding spaces", "  mysql://app:s3cret-pw@db:3306/bad-name  "],
  ])("when the URL has %s, the problem shows the user and host but not the password", (_, url) => {
    const error = configError({ DATABASE_URL: url });
    expect(error.message).not.toContain("s3cret");
    expect(error.problems.join()).not.toContain("s3cret");
    expect(error.message).toContain("***@db");
  });

  it("when the password itself contains an @, no part of it is echoed", () => {
    // The URL parser takes the last @ as the end of the credentials, so this URL is otherwise accepted.
    expect(loadConfig({ DATABASE_URL: "mysql://app:hunter2@s3cret@db:3306/contacts" }).databaseUrl).toContain(
      "db",
    );
    const error = configError({ DATABASE_URL: "mysql://app:hunter2@s3cret@db:3306/bad-name" });
    expect(error.message).not.toContain("hunter2");
    expect(error.message).not.toContain("s3cret");
  });
});

import http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { uniqueFirm } from "../support/database.js";

const ALLOWED = "https://app.example.com";
const UPSERT = "/contacts.v1.ContactService/UpsertContact";

let app: TestApp;
let plain: TestApp;
beforeAll(async () => {
  app = await startTestApp({ CORS_ORIGINS: ` ${ALLOWED}, http://localhost:5173 ,` });
  plain = await startTestApp();
});
afterAll(async () => {
  await app.close();
  await plain.close();
});

/** A browser's preflight for a Connect call with an Authorization header. */
function preflight(base: string, origin: string) {
  return fetch(`${base}${UPSERT}`, {
    method: "OPTIONS",
    headers: {
      Origin: origin,
      "Access-Control-Request-Method": "POST",
      "Access-Control-Request-Headers": "authorization,connect-protocol-version,content-type",
    },
    signal: AbortSignal.timeout(5_000),
  });
}

function upsert(base: string, origin: string, body: object) {
  return fetch(`${base}${UPSERT}`, {
    method: "POST",
    headers: {
      Origin: origin,
      "Content-Type": "application/json",
      "Connect-Protocol-Version": "1",
      Authorization: "Bearer x",
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
}

function corsHeaders(headers: Headers): string[] {
  return [...headers.keys()].filter((name) => name.startsWith("access-control-"));
}

/** The header names of a comma-separated CORS list, lower-cased. */
function names(value: string | null): string[] {
  return (value ?? "").split(",").map((name) => name.trim().toLowerCase());
}

describe("preflight", () => {
  it("answers a listed origin 204 with methods, headers and a two-hour max age", async () => {
    for (const origin of [ALLOWED, "http://localhost:5173"]) {
      const response = await preflight(app.url, origin);
      expect(response.status).toBe(204);
      expect(response.headers.get("access-control-allow-origin")).toBe(origin);
      expect(names(response.headers.get("access-control-allow-methods"))).toEqual([
        "post",
        "get",
        "patch",
        "delete",
      ]);
      expect(names(response.headers.get("access-control-allow-headers"))).toEqual(
        expect.arrayContaining([
          "content-type",
          "connect-protocol-version",
          "connect-timeout-ms",
          "x-grpc-web",
          "x-user-agent",
          "grpc-timeout",
          "authorization",
          "x-request-id",
        ]),
      );
      expect(response.headers.get("access-control-max-age")).toBe("7200");
      expect(names(response.headers.get("vary"))).toContain("origin");
      expect(await response.text()).toBe("");
    }
  });

  it("gives an unlisted origin no CORS headers, so the browser refuses the call", async () => {
    for (const origin of ["https://evil.example.com", "https://app.example.com:8443", "null"]) {
      const response = await preflight(app.url, origin);
      expect(response.status).toBe(204);
      expect(corsHeaders(response.headers)).toEqual([]);
    }
  });

  it("gives no origin CORS headers when CORS_ORIGINS is not set", async () => {
    const response = await preflight(plain.url, ALLOWED);
    expect(corsHeaders(response.headers)).toEqual([]);
    const call = await upsert(plain.url, ALLOWED, { firmId: "x", email: "nope" });
    expect(call.status).toBe(400);
    expect(corsHeaders(call.headers)).toEqual([]);
  });

  it("works the same over h2c", async () => {
    const session = http2.connect(app.url);
    try {
      const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        const request = session.request({
          ":method": "OPTIONS",
          ":path": UPSERT,
          origin: ALLOWED,
          "access-control-request-method": "POST",
        });
        request.setTimeout(5_000, () => request.close(http2.constants.NGHTTP2_CANCEL));
        request.on("response", resolve);
        request.on("error", reject);
        request.end();
      });
      expect(headers[":status"]).toBe(204);
      expect(headers["access-control-allow-origin"]).toBe(ALLOWED);
      expect(headers["access-control-max-age"]).toBe("7200");
    } finally {
      session.close();
    }
  });
});

describe("actual requests", () => {
  it("a listed origin gets its origin back and the headers it may read, on success and on error", async () => {
    const ok = await upsert(app.url, ALLOWED, {
      firmId: uniqueFirm("cors"),
      email: "ann@example.com",
      firstName: "Ann",
      lastName: "Lee",
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ result: "UPSERT_RESULT_CREATED" });
    const bad = await upsert(app.url, ALLOWED, { firmId: "x", email: "nope" });
    expect(bad.status).toBe(400);
    for (const response of [ok, bad]) {
      expect(response.headers.get("access-control-allow-origin")).toBe(ALLOWED);
      expect(names(response.headers.get("access-control-expose-headers"))).toEqual(
        expect.arrayContaining(["grpc-status", "grpc-message", "grpc-status-details-bin", "x-request-id"]),
      );
      expect(names(response.headers.get("vary"))).toContain("origin");
    }
  });

  it("an unlisted origin's call is answered without CORS headers", async () => {
    const response = await upsert(app.url, "https://evil.example.com", { firmId: "x", email: "nope" });
    expect(response.status).toBe(400);
    expect(corsHeaders(response.headers)).toEqual([]);
  });
});

describe("CORS_ORIGINS", () => {
  it("is a comma-separated list of origins, none by default", () => {
    expect(loadConfig({}).corsOrigins).toEqual([]);
    expect(loadConfig({ CORS_ORIGINS: "" }).corsOrigins).toEqual([]);
    expect(
      loadConfig({ CORS_ORIGINS: "https://app.example.com,http://localhost:5173, https://app.example.com" })
        .corsOrigins,
    ).toEqual(["https://app.example.com", "http://localhost:5173"]);
    expect(loadConfig({ CORS_ORIGINS: "http://[::1]:5173" }).corsOrigins).toEqual(["http://[::1]:5173"]);
  });

  it("names every entry that is not an origin, along with the other bad keys", () => {
    const bad = [
      "*",
      "app.example.com",
      "https://app.example.com/",
      "https://app.example.com/path",
      "https://App.example.com",
      "https://app.example.com:443",
      "ftp://files.example.com",
      "https://user@app.example.com",
    ];
    let error: unknown;
    try {
      loadConfig({ CORS_ORIGINS: ["http://localhost:5173", ...bad].join(","), PORT: "x" });
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(2);
    expect(problems.some((problem) => problem.startsWith("PORT="))).toBe(true);
    const cors = problems.find((problem) => problem.startsWith("CORS_ORIGINS=")) ?? "";
    const listed = cors.slice(cors.indexOf(" lists "));
    for (const entry of bad) expect(listed).toContain(JSON.stringify(entry));
    expect(listed).not.toContain(JSON.stringify("http://localhost:5173"));
    expect(listed).toContain("must be an origin like https://app.example.com or http://localhost:5173");
  });
});

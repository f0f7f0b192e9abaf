import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REQUEST_LIMITS } from "../../src/rpc/request-limits.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { storedContacts, uniqueFirm } from "../support/database.js";

const UPSERT = "contacts.v1.ContactService/UpsertContact";

let app: TestApp;
beforeAll(async () => {
  // MAX_REQUEST_BYTES at its default (48 MiB, the ceiling the batch needs): each RPC has its own lower limit.
  app = await startTestApp();
});
afterAll(async () => {
  await app.close();
});

const post = (path: string, body: string) =>
  fetch(`${app.url}/${path}`, { method: "POST", headers: { "content-type": "application/json" }, body });

describe("each RPC has a request limit of its own, under MAX_REQUEST_BYTES", () => {
  it("refuses an upsert over its limit with 429 naming the limit, the RPC and MAX_REQUEST_BYTES", async () => {
    const limit = REQUEST_LIMITS[UPSERT] as number;
    expect(limit).toBeLessThan(1_048_576);
    const firmId = uniqueFirm("limit");
    const body = JSON.stringify({ firmId, email: "l@example.com", note: "x".repeat(limit) });
    const response = await post(UPSERT, body);
    expect(response.status).toBe(429);
    const error = (await response.json()) as { code: string; message: string };
    expect(error.code).toBe("resource_exhausted");
    expect(error.message).toContain(`${limit}-byte limit of ${UPSERT}`);
    expect(error.message).toContain("MAX_REQUEST_BYTES");
    expect(await storedContacts(firmId)).toEqual([]);
  });

  it("accepts the largest valid upsert, every character JSON-escaped as a surrogate pair", async () => {
    const firmId = uniqueFirm("escaped");
    // 10,000 emoji in the note, written as \ud83d\ude00 escapes: 120 KB of JSON for a valid request.
    const body = JSON.stringify({
      firmId,
      email: "e@example.com",
      firstName: "E",
      lastName: "S",
      note: "NOTE",
    }).replace('"NOTE"', `"${"\\ud83d\\ude00".repeat(10_000)}"`);
    expect(body.length).toBeGreaterThan(120_000);
    const response = await post(UPSERT, body);
    expect(response.status).toBe(200);
    expect(await storedContacts(firmId)).toHaveLength(1);
  });

  it("refuses a health check over its limit, far below the upsert's", async () => {
    const response = await post(
      "grpc.health.v1.Health/Check",
      JSON.stringify({ service: "s".repeat(5_000) }),
    );
    expect(response.status).toBe(429);
    const error = (await response.json()) as { message: string };
    expect(error.message).toContain("limit of grpc.health.v1.Health/Check");
    expect(error.message).not.toContain("sssss");
  });
});

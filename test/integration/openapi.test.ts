import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ContactService } from "../../gen/contacts/v1/contact_service_pb.js";
import { OPENAPI_FILE } from "../../src/http/rest/openapi-route.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { closeSqlPool, uniqueFirm } from "../support/database.js";
import { REPO_ROOT } from "../support/server-process.js";

// The committed OpenAPI document (scripts/openapi.mjs; CI's npm run check:generated keeps it current): valid OpenAPI 3.1 by
// a kept validator, served as it is at GET /openapi.json, and every operation in it reaches its RPC.

type Json = Record<string, unknown>;
const committed = readFileSync(join(REPO_ROOT, OPENAPI_FILE), "utf8");
const doc = JSON.parse(committed) as {
  paths: Record<string, Record<string, { operationId: string; requestBody?: unknown }>>;
  components: { schemas: Record<string, Json> };
};

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app.close();
  await closeSqlPool();
});

describe("the OpenAPI document", () => {
  it("is valid OpenAPI 3.1", async () => {
    const validator = new Validator();
    const result = await validator.validate(JSON.parse(committed));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("is served at GET /openapi.json exactly as committed", async () => {
    const response = await fetch(`${app.url}/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(await response.text()).toBe(committed);
  });

  it("has one operation per unary RPC, enums in the REST form and the limits the service enforces", () => {
    const operations = Object.values(doc.paths).flatMap((byMethod) => Object.values(byMethod));
    // Every unary RPC; WatchContactChanges, a server stream, has no REST route.
    expect(operations.map((o) => o.operationId).sort()).toEqual(
      ContactService.methods
        .filter((m) => m.methodKind === "unary")
        .map((m) => m.name)
        .sort(),
    );
    const response = doc.components.schemas["contacts.v1.UpsertContactResponse"] as { properties: Json };
    expect(response.properties.result).toMatchObject({ enum: ["unspecified", "created", "updated"] });
    expect(response.properties.matchedBy).toMatchObject({ enum: ["unspecified", "tracking_id", "email"] });
    const request = doc.components.schemas["contacts.v1.UpsertContactRequest"] as { properties: Json };
    expect(request.properties.email).toMatchObject({ type: "string", maxLength: 254 });
    expect(request.properties.note).toMatchObject({ maxLength: 10_000 });
    expect(doc.components.schemas.Error).toBeDefined();
  });

  it("every operation in it is routed to its RPC", async () => {
    const firm = uniqueFirm("openapi");
    const created = await fetch(`${app.url}/v1/firms/${firm}/contacts:upsert`, {
      method: "POST",
      body: JSON.stringify({ firstName: "Ann", lastName: "Lee", email: "ann@example.com" }),
    });
    const id = ((await created.json()) as { contact: { id: string } }).contact.id;
    const values: Record<string, string> = { firm_id: firm, id, contact_id: id, "contact.id": id };
    const entries = Object.entries(doc.paths).flatMap(([path, byMethod]) =>
      Object.entries(byMethod).map(([method, op]) => ({ path, method, op })),
    );
    // Deleting last, so the others find the contact.
    entries.sort((a, b) => Number(a.method === "delete") - Number(b.method === "delete"));
    for (const { path, method, op } of entries) {
      const url = path.replace(/\{([^}]+)\}/g, (_, name: string) => values[name] ?? "");
      const query = method === "patch" ? "?updateMask=title" : "";
      const response = await fetch(`${app.url}${url}${query}`, {
        method: method.toUpperCase(),
        body: op.requestBody ? JSON.stringify(bodyFor(op.operationId)) : undefined,
      });
      const answer = (await response.json()) as Json;
      expect({ op: op.operationId, status: response.status, answer }).toMatchObject({
        op: op.operationId,
        status: 200,
      });
    }
  });
});

function bodyFor(operationId: string): Json {
  switch (operationId) {
    case "UpsertContact":
      return { firstName: "Ann", lastName: "Lee", email: "ann@example.com", title: "CFO" };
    case "BatchUpsertContacts":
      return { requests: [{ firstName: "Bo", lastName: "Ng", email: "bo@example.com" }] };
    case "UpdateContact":
      return { title: "CEO" };
    default:
      return { clientIds: ["c1"] };
  }
}

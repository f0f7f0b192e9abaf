import type { ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UpsertResult } from "../../gen/contacts/v1/contact_service_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { allClients, failure, grpcJsClient, type UpsertClient } from "../support/clients.js";
import { closeSqlPool, storedContacts, uniqueFirm } from "../support/database.js";

let app: TestApp;
let clients: UpsertClient[];
beforeAll(async () => {
  app = await startTestApp();
  clients = allClients(app.url);
});
afterAll(async () => {
  for (const client of clients) client.close();
  await app.close();
  await closeSqlPool();
});

describe("every client reaches UpsertContact on one port", () => {
  it("creates then updates, and reports a field error", async () => {
    for (const client of clients) {
      const firmId = uniqueFirm(client.name);
      const first = await client.upsert({
        firmId,
        email: "Ann@Example.com",
        firstName: "Ann",
        lastName: "Lee",
      });
      expect(first.result).toBe(UpsertResult.CREATED);
      const second = await client.upsert({ firmId, email: "ann@example.com", phone: "555" });
      expect(second.result).toBe(UpsertResult.UPDATED);
      expect(second.contact?.id).toBe(first.contact?.id);
      expect(second.contact?.email).toBe("Ann@Example.com");
      const bad = await failure(client.upsert({ firmId, email: "nope" }));
      expect(bad).toMatchObject({ code: "INVALID_ARGUMENT", fields: ["email"] });
      expect(await storedContacts(firmId)).toHaveLength(1);
    }
  });
});

describe("gRPC error messages", () => {
  it("reach grpc-js callers as the server wrote them, without percent-escapes", async () => {
    const client = grpcJsClient(app.url);
    try {
      await client.upsert({ firmId: uniqueFirm("msg"), email: "nope", firstName: "A", lastName: "B" });
      expect.unreachable();
    } catch (error) {
      expect((error as ServiceError).details).toBe("email: must look like name@example.com");
    } finally {
      client.close();
    }
  });
});

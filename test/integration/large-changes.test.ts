import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_ASSIGNMENTS_PER_KIND } from "../../src/contacts/assignments.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { grpcJsClient } from "../support/clients.js";
import { uniqueFirm } from "../support/database.js";

// Eight changes of a contact, each assigning or unassigning 1000 ids of 64 four-byte characters of both kinds:
// about 0.6 MB each, 4.8 MB of history, more than a default gRPC client accepts in one answer.
const CHANGES = 8;
const DEFAULT_GRPC_RECEIVE_LIMIT = 4 * 1024 * 1024;
const ids = Array.from(
  { length: MAX_ASSIGNMENTS_PER_KIND },
  (_, i) => `${i}`.padStart(4, "0") + "𝟎".repeat(60),
);

let app: TestApp;
let client: ReturnType<typeof grpcJsClient>;
beforeAll(async () => {
  app = await startTestApp();
  client = grpcJsClient(app.url);
});
afterAll(async () => {
  client?.close();
  await app?.close();
});

describe("pages of a contact's changes at the assignment maximum", () => {
  it("are paged through by a default grpc-js client, each change exactly once", {
    timeout: 60_000,
  }, async () => {
    const firmId = uniqueFirm("changes");
    const { contact } = await client.upsert({
      firmId,
      email: "big@example.com",
      firstName: "B",
      lastName: "C",
    });
    const contactId = contact?.id as string;
    for (let i = 0; i < CHANGES; i++) {
      const request = { firmId, contactId, clientIds: ids, investmentEntityIds: ids };
      await (i % 2 === 0 ? client.assign(request) : client.unassign(request));
    }
    const kinds: number[] = [];
    const sizes: number[] = [];
    let pageToken = "";
    do {
      const page = await client.changes({ firmId, contactId, pageSize: 100, pageToken });
      sizes.push(page.changes.length);
      kinds.push(...page.changes.map((change) => change.kind));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    console.info(`${CHANGES + 1} changes in pages of ${JSON.stringify(sizes)}`);
    // Newest first: unassigned, assigned, ..., then the create; more than one page, each within the client's limit.
    expect(kinds).toHaveLength(CHANGES + 1);
    expect(kinds.at(-1)).toBe(1);
    expect(sizes.length).toBeGreaterThan(1);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(DEFAULT_GRPC_RECEIVE_LIMIT / 500_000);
  });
});

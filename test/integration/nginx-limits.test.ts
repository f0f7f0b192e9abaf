import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_BATCH_ITEMS } from "../../src/contacts/batch-types.js";
import { DATA_FIELDS, MAX_LENGTH } from "../../src/contacts/fields.js";
import { BATCH_READ_MAX_BYTES } from "../../src/rpc/batch-request-limit.js";
import { startTestApp, type TestApp } from "../support/app.js";
import {
  type BatchClient,
  type BatchInit,
  connectJsonBatchClient,
  grpcJsBatchClient,
} from "../support/batch-clients.js";
import { storedContacts, uniqueFirm } from "../support/database.js";
import { NGINX_MISSING, type RunningNginx, startNginx } from "../support/nginx.js";

// The shipped nginx configuration passes the largest request an instance accepts on both of its ports: a
// BatchUpsertContacts of MAX_BATCH_ITEMS items with every field at its maximum length in 4-byte characters.
if (NGINX_MISSING) console.warn(`skipped nginx-limits.test.ts: ${NGINX_MISSING}`);

/** One code point, four bytes of UTF-8. */
const WIDE = "\u{1F600}";

function largestBatch(firmId: string): BatchInit {
  const requests = Array.from({ length: MAX_BATCH_ITEMS }, (_, i) => ({
    trackingId: `${i}-${WIDE.repeat(MAX_LENGTH.trackingId - String(i).length - 1)}`,
    email: `${"a".repeat(54)}${String(i).padStart(10, "0")}@${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(58)}`,
    ...Object.fromEntries(DATA_FIELDS.map((field) => [field, WIDE.repeat(MAX_LENGTH[field])])),
  }));
  return { firmId, requests, validateOnly: true };
}

let app: TestApp;
let nginx: RunningNginx;
beforeAll(async () => {
  if (NGINX_MISSING) return;
  app = await startTestApp();
  const instance = `127.0.0.1:${app.port}`;
  nginx = await startNginx([instance, instance, instance]);
}, 60_000);
afterAll(async () => {
  await nginx?.stop();
  await app?.close();
});

describe.skipIf(NGINX_MISSING !== undefined)("behind deploy/nginx.conf.template", () => {
  it.each([
    ["gRPC port, grpc-js", () => grpcJsBatchClient(nginx.grpcUrl)],
    ["HTTP/1.1 port, Connect JSON", () => connectJsonBatchClient(nginx.httpUrl)],
  ] as [string, () => BatchClient][])(
    "a batch of the largest size the service reads passes on the %s",
    async (_, makeClient) => {
      const firmId = uniqueFirm("ngx");
      const request = largestBatch(firmId);
      // Within 2% of what the service reads at most: the limit under test, not a comfortable margin below it.
      const jsonBytes = Buffer.byteLength(JSON.stringify(request));
      expect(jsonBytes).toBeGreaterThan(BATCH_READ_MAX_BYTES * 0.9);
      expect(jsonBytes).toBeLessThanOrEqual(BATCH_READ_MAX_BYTES);
      const client = makeClient();
      try {
        const response = await client.batch(request, 120_000).catch(async (error: unknown) => {
          throw new Error(`${String(error)}; nginx logged: ${await nginx.errorLog()}`);
        });
        expect(response.results).toHaveLength(MAX_BATCH_ITEMS);
        const failed = response.results.filter((result) => result.outcome.case !== "response");
        expect(failed).toEqual([]);
        // A dry run: nothing stored.
        expect(await storedContacts(firmId)).toEqual([]);
      } finally {
        client.close();
      }
    },
    180_000,
  );
});

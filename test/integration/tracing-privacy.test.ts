import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectGrpcH2, failure, grpcJsClient } from "../support/clients.js";
import { closeSqlPool, uniqueFirm } from "../support/database.js";
import { type OtlpReceiver, startOtlpReceiver } from "../support/otlp-receiver.js";
import { rpcSpan, startTracedApp } from "../support/traced-app.js";

let receiver: OtlpReceiver;
let dir: string;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  dir = await mkdtemp(join(tmpdir(), "contacts-tracing-"));
});

afterAll(async () => {
  await receiver?.close();
  await rm(dir, { recursive: true, force: true });
  await closeSqlPool();
});

describe("exported spans hold no personal data", () => {
  it("never carries a call's email, name, phone, note, tracking id or API key, in any byte; spans leave at shutdown", async () => {
    const mark = randomBytes(6).toString("hex");
    const secret = {
      email: `zqx.${mark}@example.com`,
      emailDomain: `${mark}.example.org`,
      firstName: `Firstname${mark}`,
      lastName: `Lastname${mark}`,
      phone: `+44 20 ${mark.slice(0, 4)} ${mark.slice(4)}`,
      note: `Note about ${mark} and their family`,
      trackingId: `trk-${mark}`,
      token: `tok-${mark}-${randomBytes(8).toString("hex")}`,
    };
    const firmId = uniqueFirm("tr-pii");
    const keys = join(dir, "keys.json");
    const sha256 = createHash("sha256").update(secret.token).digest("hex");
    await writeFile(keys, JSON.stringify([{ name: "crm-sync", sha256, firms: [firmId] }]));
    // A delay longer than the test: every span leaves only because the app flushes them when it closes.
    const app = await startTracedApp(receiver, { API_KEYS_FILE: keys, OTEL_BSP_SCHEDULE_DELAY: "600000" });
    const headers = { authorization: `Bearer ${secret.token}` };
    const grpcJs = grpcJsClient(app.server.url);
    const grpcH2 = connectGrpcH2(app.server.url);
    try {
      const contact = {
        firmId,
        trackingId: secret.trackingId,
        email: secret.email,
        firstName: secret.firstName,
        lastName: secret.lastName,
        phone: secret.phone,
        note: secret.note,
      };
      await grpcJs.upsert(contact, { headers });
      await grpcH2.upsert({ ...contact, note: `${secret.note}!` }, { headers });
      // A new tracking id with the taken email: a conflict whose message and details concern that email.
      await failure(grpcJs.upsert({ ...contact, trackingId: `${secret.trackingId}-2` }, { headers }));
      // An invalid email, quoted back to the caller in the error.
      await failure(grpcH2.upsert({ ...contact, email: `not-an-email ${secret.emailDomain}` }, { headers }));
      const batch = await fetch(`${app.server.url}/contacts.v1.ContactService/BatchUpsertContacts`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify({
          firmId,
          requests: [
            { ...contact, note: `${secret.note}!` }, // unchanged: as stored
            { ...contact, phone: `${secret.phone}9` }, // updated
            { ...contact, trackingId: `${secret.trackingId}-3`, email: `b.${secret.email}` }, // created
            { firmId, firstName: secret.firstName }, // failed: no match key
          ],
        }),
      });
      expect(batch.status, await batch.clone().text()).toBe(200);
      await grpcJs.list({ firmId }, { headers });
      expect(receiver.spans.filter(rpcSpan(firmId))).toEqual([]); // not yet exported
    } finally {
      grpcJs.close();
      await app.close();
    }

    const calls = receiver.spans.filter((s) => s.attributes["contacts.firm_id"] === firmId);
    expect(calls.length).toBeGreaterThanOrEqual(6);
    const batchSpan = calls.find(rpcSpan(firmId, "BatchUpsertContacts"));
    expect(batchSpan?.attributes).toMatchObject({
      "contacts.batch.items": 4,
      "contacts.batch.created": 1,
      "contacts.batch.updated": 1,
      "contacts.batch.unchanged": 1,
      "contacts.batch.failed": 1,
    });

    const exported = Buffer.concat(receiver.bodies);
    // The search can fail: the firm id, which spans do carry, is found.
    expect(exported.includes(firmId)).toBe(true);
    for (const [field, value] of Object.entries(secret)) {
      for (const form of [value, value.toLowerCase(), value.toUpperCase()]) {
        expect(exported.includes(form), `${field} (${form}) was exported`).toBe(false);
      }
    }
    expect(exported.includes(mark), "a fragment of a personal value was exported").toBe(false);
  });
});

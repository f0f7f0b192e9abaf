import { readFile } from "node:fs/promises";
import path from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ContactService,
  UpsertContactRequestSchema,
  type UpsertContactResponse,
  UpsertContactResponseSchema,
  UpsertResult,
} from "../../gen/contacts/v1/contact_service_pb.js";
import { RetryInfoSchema } from "../../gen-deps/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen-deps/google/rpc/status_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import type { UpsertInit } from "../support/clients.js";
import { closeSqlPool, storedContacts, uniqueFirm } from "../support/database.js";
import { REPO_ROOT } from "../support/server-process.js";

// The grpc-js service config of docs/api.md ("Retrying from grpc-js"), run as written against a server whose own transaction retry gives up
// after one attempt: concurrent creators of one new key then lose races with ABORTED, which the config retries.

const PARALLEL = 24;
const ROUNDS = 6;

interface ServiceConfig {
  methodConfig: { name: { service: string; method: string }[]; retryPolicy: Record<string, unknown> }[];
}

async function documentedServiceConfig(): Promise<ServiceConfig> {
  const page = await readFile(path.join(REPO_ROOT, "docs", "api.md"), "utf8");
  const match = /<!-- grpc-js-retry:start -->\n```json\n([\s\S]*?)```\n<!-- grpc-js-retry:end -->/.exec(page);
  if (!match?.[1]) throw new Error("docs/api.md has no grpc-js-retry block");
  return JSON.parse(match[1]) as ServiceConfig;
}

type Outcome =
  | { code: "OK"; i: number; response: UpsertContactResponse }
  | { code: string; i: number; retryDelayMs: number | undefined };

/** A grpc-js UpsertContact, with the given channel options; failures come back with their RetryInfo delay. */
function upserter(url: string, options: grpc.ChannelOptions) {
  const client = new grpc.Client(new URL(url).host, grpc.credentials.createInsecure(), options);
  const upsert = (request: UpsertInit, i: number) =>
    new Promise<Outcome>((resolve) => {
      client.makeUnaryRequest(
        `/${ContactService.typeName}/${ContactService.method.upsertContact.name}`,
        (message: UpsertInit) =>
          Buffer.from(toBinary(UpsertContactRequestSchema, create(UpsertContactRequestSchema, message))),
        (bytes: Buffer) => fromBinary(UpsertContactResponseSchema, bytes),
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + 20_000 },
        (error, response) => {
          if (!error) return resolve({ code: "OK", i, response: response as UpsertContactResponse });
          const bin = error.metadata?.get("grpc-status-details-bin")[0];
          const status = bin ? fromBinary(StatusSchema, bin as Buffer) : undefined;
          const retryInfo = status?.details.find((any) => any.typeUrl.endsWith("/google.rpc.RetryInfo"));
          const delay = retryInfo && fromBinary(RetryInfoSchema, retryInfo.value).retryDelay;
          resolve({
            code: grpc.status[error.code] ?? String(error.code),
            i,
            retryDelayMs: delay && Number(delay.seconds) * 1000 + delay.nanos / 1e6,
          });
        },
      );
    });
  return { upsert, close: () => client.close() };
}

/** PARALLEL creators of one new key per round, each round on a new firm; every outcome and the firms used. */
async function race(
  client: ReturnType<typeof upserter>,
  rounds: number,
  stopWhen?: (o: Outcome[]) => boolean,
) {
  const outcomes: Outcome[] = [];
  const firms: { firmId: string; results: Outcome[] }[] = [];
  for (let round = 0; round < rounds && !stopWhen?.(outcomes); round++) {
    const firmId = uniqueFirm("retry-policy");
    const results = await Promise.all(
      Array.from({ length: PARALLEL }, (_, i) =>
        client.upsert(
          { firmId, trackingId: "CRM-R", email: "retry@example.com", firstName: `Re${i}`, lastName: "Try" },
          i,
        ),
      ),
    );
    outcomes.push(...results);
    firms.push({ firmId, results });
  }
  return { outcomes, firms };
}

function tally(outcomes: Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { code } of outcomes) counts[code] = (counts[code] ?? 0) + 1;
  return counts;
}

/** How many calls of UpsertContact the server answered ABORTED, from its own metrics. */
async function serverAborted(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text
    .split("\n")
    .find(
      (l) =>
        l.startsWith("contacts_rpc_calls_total{") &&
        l.includes('method="contacts.v1.ContactService/UpsertContact"') &&
        l.includes('code="ABORTED"'),
    );
  return line ? Number(line.split(" ").pop()) : 0;
}

let app: TestApp;
let config: ServiceConfig;
beforeAll(async () => {
  config = await documentedServiceConfig();
  app = await startTestApp(
    {},
    { retryPolicy: { maxAttempts: 1, maxUnavailableAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 } },
  );
});
afterAll(async () => {
  await app.close();
  await closeSqlPool();
});

describe("the grpc-js retry policy of docs/api.md", () => {
  it("names exactly the ContactService methods the proto declares idempotent or free of side effects", () => {
    const names = config.methodConfig.flatMap((c) => c.name);
    expect(new Set(names.map((n) => n.service))).toEqual(new Set([ContactService.typeName]));
    const safe = ContactService.methods
      .filter((m) =>
        [MethodOptions_IdempotencyLevel.IDEMPOTENT, MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS].includes(
          m.idempotency,
        ),
      )
      .map((m) => m.name);
    expect(names.map((n) => n.method).sort()).toEqual(safe.sort());
    expect(config.methodConfig[0]?.retryPolicy.retryableStatusCodes).toEqual(
      expect.arrayContaining(["UNAVAILABLE", "ABORTED", "RESOURCE_EXHAUSTED"]),
    );
  });

  it("without it, callers that lose a race get ABORTED with a RetryInfo detail, and nothing of theirs is written", async () => {
    const plain = upserter(app.url, {});
    try {
      const { outcomes, firms } = await race(plain, 10, (o) => o.some((x) => x.code === "ABORTED"));
      console.info(`without the policy: ${JSON.stringify(tally(outcomes))}`);
      expect(outcomes.every((o) => o.code === "OK" || o.code === "ABORTED")).toBe(true);
      const aborted = outcomes.filter((o) => o.code === "ABORTED");
      expect(aborted.length).toBeGreaterThan(0);
      // Each carries the delay the error table promises for a lost race.
      for (const o of aborted) expect(o).toMatchObject({ retryDelayMs: 50 });
      for (const { firmId, results } of firms) {
        const stored = await storedContacts(firmId);
        expect(stored).toHaveLength(1);
        const okNames = results.filter((r) => r.code === "OK").map((r) => `Re${r.i}`);
        expect(okNames).toContain(stored[0]?.first_name);
      }
    } finally {
      plain.close();
    }
  });

  it("with it, every caller succeeds: grpc-js retried the ABORTED answers the server gave", async () => {
    const retrying = upserter(app.url, { "grpc.service_config": JSON.stringify(config) });
    try {
      const abortedBefore = await serverAborted(app.url);
      const { outcomes, firms } = await race(retrying, ROUNDS);
      const abortedByServer = (await serverAborted(app.url)) - abortedBefore;
      console.info(
        `with the policy: ${JSON.stringify(tally(outcomes))} over ${ROUNDS} rounds of ${PARALLEL}; the server answered ABORTED ${abortedByServer} times`,
      );
      expect(tally(outcomes)).toEqual({ OK: ROUNDS * PARALLEL });
      // The races happened: the server refused some attempts, and the client turned them into successes.
      expect(abortedByServer).toBeGreaterThan(0);
      for (const { firmId, results } of firms) {
        const created = results.filter((r) => "response" in r && r.response.result === UpsertResult.CREATED);
        expect(created).toHaveLength(1);
        const stored = await storedContacts(firmId);
        expect(stored).toHaveLength(1);
        expect(stored[0]?.tracking_id).toBe("CRM-R");
      }
    } finally {
      retrying.close();
    }
  });
});

import http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UpsertContactRequestSchema } from "../../gen/contacts/v1/contact_service_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { failure, grpcJsClient, type UpsertClient } from "../support/clients.js";
import { closeSqlPool, openTestConnection, storedContacts, uniqueFirm } from "../support/database.js";

let app: TestApp;
let client: UpsertClient;
beforeAll(async () => {
  app = await startTestApp();
  client = grpcJsClient(app.url);
});
afterAll(async () => {
  client.close();
  await app.close();
  await closeSqlPool();
});

/** Holds the row locks of a firm's contacts from another connection while `during` runs, as a slow writer would. */
async function whileLocked<T>(firmId: string, during: () => Promise<T>): Promise<T> {
  const blocker = await openTestConnection();
  try {
    await blocker.beginTransaction();
    await blocker.query("SELECT id FROM contacts WHERE firm_id = ? FOR UPDATE", [firmId]);
    const result = await during();
    // The client gave up on its own clock; the server's copy of the deadline ends a moment later.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await blocker.rollback();
    return result;
  } finally {
    await blocker.end();
  }
}

const PATH = "/contacts.v1.ContactService/UpsertContact";

/** How many UpsertContact calls the server itself has counted as ending with `code`, from its /metrics. */
async function serverCount(base: string, code: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith("contacts_rpc_calls_total{") && l.includes(`code="${code}"`));
  return Number(line?.split(" ").at(-1) ?? 0);
}

/** A Connect JSON upsert with only the server holding a deadline: the client itself waits up to 10 s. */
async function connectWithTimeoutHeader(base: string, firmId: string, timeout: string) {
  const response = await fetch(`${base}${PATH}`, {
    method: "POST",
    headers: { "content-type": "application/json", "connect-timeout-ms": timeout },
    body: JSON.stringify({ firmId, trackingId: "T1", firstName: "After" }),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: (await response.json()) as { code?: string; message?: string } };
}

describe("the caller's deadline applies to the database work", () => {
  it("the server ends a call blocked on a lock at the deadline it was sent, and writes nothing afterwards", async () => {
    const firmId = uniqueFirm("deadline-server");
    await client.upsert({
      firmId,
      trackingId: "T1",
      email: "d@example.com",
      firstName: "Before",
      lastName: "L",
    });
    const before = await serverCount(app.url, "DEADLINE_EXCEEDED");
    const started = Date.now();
    // The client has no deadline of its own here: a DEADLINE_EXCEEDED can only be the server's.
    const late = await whileLocked(firmId, () => connectWithTimeoutHeader(app.url, firmId, "300"));
    const elapsed = Date.now() - started;
    expect(late).toMatchObject({ status: 504, body: { code: "deadline_exceeded" } });
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1_500);
    expect(await serverCount(app.url, "DEADLINE_EXCEEDED")).toBe(before + 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const [row] = await storedContacts(firmId);
    expect(row?.first_name).toBe("Before");
  });

  it("answers DEADLINE_EXCEEDED on time while blocked on a lock, and writes nothing afterwards", async () => {
    const firmId = uniqueFirm("deadline");
    await client.upsert({
      firmId,
      trackingId: "T1",
      email: "d@example.com",
      firstName: "Before",
      lastName: "L",
    });
    const started = Date.now();
    const late = await whileLocked(firmId, () =>
      failure(client.upsert({ firmId, trackingId: "T1", firstName: "After" }, { timeoutMs: 300 })),
    );
    expect(late.code).toBe("DEADLINE_EXCEEDED");
    expect(Date.now() - started).toBeLessThan(1_500);
    // grpc-js gives up on its own clock; the server must have ended the call on its copy of the deadline too.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await serverCount(app.url, "DEADLINE_EXCEEDED")).toBeGreaterThanOrEqual(1);
    // The server's read finishes once the lock is gone; its next statement sees the deadline and rolls back.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const [row] = await storedContacts(firmId);
    expect(row?.first_name).toBe("Before");
  });
});

describe("MAX_TIMEOUT_MS caps how long a call may work", () => {
  let capped: TestApp;
  let cappedClient: UpsertClient;
  beforeAll(async () => {
    capped = await startTestApp({ MAX_TIMEOUT_MS: "300" });
    cappedClient = grpcJsClient(capped.url);
  });
  afterAll(async () => {
    cappedClient.close();
    await capped.close();
  });

  it("accepts a client deadline longer than the cap, and ends a call that runs past the cap", async () => {
    const firmId = uniqueFirm("cap");
    const created = await cappedClient.upsert(
      { firmId, trackingId: "T1", email: "cap@example.com", firstName: "Before", lastName: "L" },
      { timeoutMs: 120_000 },
    );
    expect(created.contact?.firstName).toBe("Before");
    const started = Date.now();
    const late = await whileLocked(firmId, () =>
      failure(cappedClient.upsert({ firmId, trackingId: "T1", firstName: "After" }, { timeoutMs: 60_000 })),
    );
    // The message is the server's own, and the client's 60 s deadline is far from over: the cap ended it.
    expect(late).toMatchObject({
      code: "DEADLINE_EXCEEDED",
      message: expect.stringMatching(/limit of 300 ms/),
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(1_500);
    const [row] = await storedContacts(firmId);
    expect(row?.first_name).toBe("Before");
  });
});

describe("a client deadline longer than Node's timers can hold", () => {
  // Node fires a timer above 2^31-1 ms (24.8 days) at once; every value a client can send must work.
  const grpcTimeouts = ["31536000S", "2147484M", "99999999H", "99999999S", "999999999999H"];
  const connectTimeouts = ["2147483648", "31536000000", "9999999999", "99999999999999999999"];

  it("is shortened to MAX_TIMEOUT_MS over gRPC, never an instant DEADLINE_EXCEEDED", async () => {
    for (const timeout of grpcTimeouts) {
      const firmId = uniqueFirm("long-grpc");
      const answer = await grpcWithTimeoutHeader(app.url, firmId, timeout);
      expect({ timeout, ...answer }).toEqual({ timeout, status: "0" });
      expect(await storedContacts(firmId)).toHaveLength(1);
    }
  });

  it("is shortened to MAX_TIMEOUT_MS over Connect", async () => {
    for (const timeout of connectTimeouts) {
      const firmId = uniqueFirm("long-connect");
      const response = await fetch(`${app.url}${PATH}`, {
        method: "POST",
        headers: { "content-type": "application/json", "connect-timeout-ms": timeout },
        body: JSON.stringify({ firmId, email: "long@example.com", firstName: "L", lastName: "D" }),
      });
      expect({ timeout, status: response.status }).toEqual({ timeout, status: 200 });
      expect(await storedContacts(firmId)).toHaveLength(1);
    }
  });

  it("from grpc-js, one year ahead, succeeds", async () => {
    const firmId = uniqueFirm("long-grpc-js");
    const created = await client.upsert(
      { firmId, email: "year@example.com", firstName: "Y", lastName: "R" },
      { timeoutMs: 365 * 24 * 3_600_000 },
    );
    expect(created.contact?.firstName).toBe("Y");
  });

  it("still ends a blocked call at MAX_TIMEOUT_MS, with the server's message", async () => {
    const capped = await startTestApp({ MAX_TIMEOUT_MS: "300" });
    try {
      const firmId = uniqueFirm("long-capped");
      await grpcWithTimeoutHeader(capped.url, firmId, "99999999H");
      const started = Date.now();
      const late = await whileLocked(firmId, () =>
        connectWithTimeoutHeader(capped.url, firmId, "9999999999"),
      );
      expect(late).toMatchObject({
        status: 504,
        body: { message: expect.stringMatching(/limit of 300 ms/) },
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(Date.now() - started).toBeLessThan(1_500);
    } finally {
      await capped.close();
    }
  });
});

/** One gRPC upsert over h2c with a raw grpc-timeout header; resolves with the grpc-status. */
async function grpcWithTimeoutHeader(base: string, firmId: string, timeout: string) {
  const session = http2.connect(base);
  try {
    const stream = session.request({
      ":method": "POST",
      ":path": PATH,
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-timeout": timeout,
    });
    const payload = toBinary(
      UpsertContactRequestSchema,
      create(UpsertContactRequestSchema, {
        firmId,
        trackingId: "T1",
        email: "g@example.com",
        firstName: "G",
        lastName: "T",
      }),
    );
    const frame = new Uint8Array(5 + payload.length);
    new DataView(frame.buffer).setUint32(1, payload.length);
    frame.set(payload, 5);
    stream.end(frame);
    stream.resume();
    const status = await new Promise<string | undefined>((resolve, reject) => {
      let headers: http2.IncomingHttpHeaders = {};
      stream.on("response", (h) => {
        headers = h;
      });
      stream.on("trailers", (t) => resolve(t["grpc-status"] as string));
      stream.on("end", () => resolve(headers["grpc-status"] as string));
      stream.on("error", reject);
    });
    return { status };
  } finally {
    session.close();
  }
}

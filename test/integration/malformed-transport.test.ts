import http2 from "node:http2";
import net from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UpsertContactRequestSchema } from "../../gen/contacts/v1/contact_service_pb.js";
import { BadRequestSchema } from "../../gen-deps/google/rpc/error_details_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { storedContacts, uniqueFirm } from "../support/database.js";

const PATH = "/contacts.v1.ContactService/UpsertContact";
const MAX_REQUEST_BYTES = 64 * 1024;
const READ_TIMEOUT_MS = 500;

/** Opens a raw TCP connection, sends `bytes`, and resolves with how long the server took to close it. */
function timeUntilClosed(port: number, bytes: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, "127.0.0.1", () => socket.write(bytes));
    socket.resume();
    socket.on("error", () => undefined);
    socket.once("close", () => resolve(Date.now() - started));
    setTimeout(() => {
      socket.destroy();
      reject(new Error("the server kept a stalled connection open"));
    }, 10_000);
  });
}

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({
    MAX_REQUEST_BYTES: String(MAX_REQUEST_BYTES),
    REQUEST_READ_TIMEOUT_MS: String(READ_TIMEOUT_MS),
  });
});
afterAll(async () => {
  await app.close();
});

const post = (body: string | Uint8Array, contentType: string) =>
  fetch(`${app.url}${PATH}`, {
    method: "POST",
    headers: { "content-type": contentType },
    body,
    signal: AbortSignal.timeout(5_000),
  });

const validBytes = () =>
  toBinary(
    UpsertContactRequestSchema,
    create(UpsertContactRequestSchema, {
      firmId: uniqueFirm("wire"),
      email: "a@example.com",
      firstName: "A",
      lastName: "B",
    }),
  );

/** Sends one gRPC frame over h2c and returns the grpc-status and message from the trailers. */
async function grpcCall(
  frame: Uint8Array,
): Promise<{ status: string | undefined; message: string | undefined }> {
  const session = http2.connect(app.url);
  try {
    const stream = session.request({
      ":method": "POST",
      ":path": PATH,
      "content-type": "application/grpc",
      te: "trailers",
    });
    stream.end(frame);
    stream.resume();
    const trailers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      let headers: http2.IncomingHttpHeaders = {};
      stream.on("response", (h) => {
        headers = h;
      });
      stream.on("trailers", resolve);
      // A trailers-only response carries the status in the headers.
      stream.on("end", () => resolve(headers));
      stream.on("error", reject);
      setTimeout(() => reject(new Error("no answer")), 5_000);
    });
    return { status: trailers["grpc-status"] as string, message: trailers["grpc-message"] as string };
  } finally {
    session.close();
  }
}

function frameOf(payload: Uint8Array, declaredLength = payload.length): Uint8Array {
  const frame = new Uint8Array(5 + payload.length);
  new DataView(frame.buffer).setUint32(1, declaredLength);
  frame.set(payload, 5);
  return frame;
}

describe("malformed input on the wire gets a client error, never internal", () => {
  it("answers invalid JSON with 400 invalid_argument", async () => {
    const response = await post('{"firmId": "acme", "email": ', "application/json");
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: "invalid_argument" });
  });

  it("answers a JSON value of the wrong type with 400 naming the field", async () => {
    const response = await post('{"firmId": "acme", "email": 42}', "application/json");
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      code: "invalid_argument",
      message: expect.stringMatching(/^email: /),
    });
  });

  it("refuses an unknown JSON field with 400 naming it, so a misspelt field is not a silent no-op", async () => {
    const firmId = uniqueFirm("unk");
    const body = JSON.stringify({ firmId, email: "u@example.com", firstname: "Ann", lastName: "K" });
    const response = await post(body, "application/json");
    expect(response.status).toBe(400);
    const error = (await response.json()) as { code: string; message: string; details: unknown[] };
    expect(error).toMatchObject({ code: "invalid_argument", message: "firstname: unknown field" });
    expect(violations(error.details)).toEqual([{ field: "firstname", description: "unknown field" }]);
    expect(await storedContacts(firmId)).toEqual([]);
  });

  it("refuses unknown JSON fields on every RPC, health included", async () => {
    const response = await fetch(`${app.url}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ service: "", verbose: true }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      code: "invalid_argument",
      message: "verbose: unknown field",
    });
  });

  it("keeps ignoring unknown fields in binary protobuf, as the protocol intends", async () => {
    const firmId = uniqueFirm("unk-bin");
    const bytes = toBinary(
      UpsertContactRequestSchema,
      create(UpsertContactRequestSchema, { firmId, email: "b@example.com", firstName: "B", lastName: "N" }),
    );
    // Field 999, varint 1: a field a newer client might send.
    const withUnknown = new Uint8Array([...bytes, 0xb8, 0x3e, 0x01]);
    expect((await post(withUnknown, "application/proto")).status).toBe(200);
    expect(await storedContacts(firmId)).toHaveLength(1);
  });

  it("answers truncated and garbage protobuf with 400 invalid_argument", async () => {
    const bytes = validBytes();
    for (const body of [
      bytes.slice(0, bytes.length - 3),
      new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]),
    ]) {
      const response = await post(body, "application/proto");
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ code: "invalid_argument" });
    }
  });

  it("answers an unsupported content type with 415", async () => {
    expect((await post("firmId=acme", "application/x-www-form-urlencoded")).status).toBe(415);
  });

  it("refuses a body over MAX_REQUEST_BYTES with resource_exhausted", async () => {
    const note = "x".repeat(MAX_REQUEST_BYTES + 1);
    const response = await post(
      JSON.stringify({ firmId: "acme", email: "big@example.com", note }),
      "application/json",
    );
    expect(response.status).toBe(429);
    const error = (await response.json()) as { code: string; message: string };
    expect(error.code).toBe("resource_exhausted");
    // Named in the service's terms: the limit and the setting, not connect-es's readMaxBytes.
    expect(error.message).toMatch(/65536-byte limit of contacts\.v1\.ContactService\/UpsertContact/);
    expect(error.message).toMatch(/MAX_REQUEST_BYTES/);
    expect(error.message).not.toMatch(/readMaxBytes/);
  });

  it("answers gRPC frames that are garbage, truncated or oversized with a client status", async () => {
    const bytes = validBytes();
    const garbage = await grpcCall(frameOf(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f])));
    expect(garbage.status).toBe("3"); // INVALID_ARGUMENT
    // The body ends inside the frame it promised: the client sent bad input.
    const truncated = await grpcCall(frameOf(bytes, bytes.length + 10));
    expect(truncated.status).toBe("3"); // INVALID_ARGUMENT
    const oversized = await grpcCall(frameOf(new Uint8Array(MAX_REQUEST_BYTES + 1)));
    expect(oversized.status).toBe("8"); // RESOURCE_EXHAUSTED
    expect(oversized.message).toMatch(
      /limit of contacts\.v1\.ContactService\/UpsertContact.*MAX_REQUEST_BYTES/,
    );
  });

  it("cuts off clients that send nothing, stall in their headers or never finish their body, serving others meanwhile", async () => {
    const PATH_LINE = `POST ${PATH} HTTP/1.1\r\nHost: localhost\r\n`;
    const stalled = Promise.all([
      timeUntilClosed(app.port, ""),
      timeUntilClosed(app.port, PATH_LINE),
      timeUntilClosed(
        app.port,
        `${PATH_LINE}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"firmId":`,
      ),
      h2BodyNeverEnds(),
      h2BodyNeverEnds(true),
      prefaceTrickle(app.port),
    ]);
    // Other clients are served while the stalled ones wait to be cut off.
    const body = JSON.stringify({
      firmId: uniqueFirm("meanwhile"),
      email: "m@example.com",
      firstName: "M",
      lastName: "W",
    });
    expect((await post(body, "application/json")).status).toBe(200);
    for (const ms of await stalled) expect(ms).toBeLessThan(READ_TIMEOUT_MS + 3_000);
  });

  it("keeps serving other clients afterwards", async () => {
    const body = JSON.stringify({
      firmId: uniqueFirm("after"),
      email: "z@example.com",
      firstName: "Z",
      lastName: "Z",
    });
    expect((await post(body, "application/json")).status).toBe(200);
  });
});

/**
 * Sends the HTTP/2 client preface one byte at a time, each gap shorter than the read timeout, so that only a
 * limit counted from the connection's start can cut it off: resolves with how long the server took to close it.
 */
function prefaceTrickle(port: number): Promise<number> {
  const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let sent = 0;
    const socket = net.connect(port, "127.0.0.1");
    const dribble = setInterval(() => {
      if (sent < preface.length && socket.writable) socket.write(preface.subarray(sent, ++sent));
    }, READ_TIMEOUT_MS / 3);
    socket.resume();
    socket.on("error", () => undefined);
    socket.once("close", () => {
      clearInterval(dribble);
      resolve(Date.now() - started);
    });
    setTimeout(() => {
      clearInterval(dribble);
      socket.destroy();
      reject(new Error("the server kept a trickling preface open"));
    }, 10_000);
  });
}

/** The field violations of a Connect error body's google.rpc.BadRequest details. */
function violations(details: unknown[]) {
  return (details as { type: string; value: string }[])
    .filter((d) => d.type === "google.rpc.BadRequest")
    .flatMap((d) =>
      fromBinary(BadRequestSchema, Buffer.from(d.value, "base64")).fieldViolations.map((v) => ({
        field: v.field,
        description: v.description,
      })),
    );
}

/**
 * An h2c stream whose body never ends, stalled or trickling a byte every 200 ms: resolves with how long the
 * server took to cancel it.
 */
function h2BodyNeverEnds(trickle = false): Promise<number> {
  const session = http2.connect(app.url);
  session.on("error", () => undefined);
  const started = Date.now();
  const stream = session.request({ ":method": "POST", ":path": PATH, "content-type": "application/json" });
  stream.write('{"firmId":');
  stream.resume();
  const dribble = trickle ? setInterval(() => stream.writable && stream.write(" "), 200) : undefined;
  stream.once("close", () => clearInterval(dribble));
  return new Promise((resolve, reject) => {
    stream.on("error", () => undefined);
    stream.once("close", () => {
      session.close();
      resolve(Date.now() - started);
    });
    setTimeout(() => {
      session.destroy();
      reject(new Error("the server kept a stalled stream open"));
    }, 10_000);
  });
}

import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ContactService } from "../../gen/contacts/v1/contact_service_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { failure } from "../support/clients.js";
import { closeSqlPool, storedContacts, uniqueFirm } from "../support/database.js";

// DNS rebinding: a web page on evil.example.com whose name an attacker re-points at 127.0.0.1 sends its requests
// to a loopback-bound service with `Host: evil.example.com`. Without API keys the service serves only the names
// in ALLOWED_HOSTS, and refuses the others before doing any work.

const EVIL = "evil.example.com";

let anonymous: TestApp;
beforeAll(async () => {
  anonymous = await startTestApp();
});
afterAll(async () => {
  await anonymous.close();
  await closeSqlPool();
});

/** A plain HTTP/1.1 request with the Host header given (fetch will not send another Host than the URL's). */
function request(
  url: string,
  options: { method?: string; path: string; host: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        method: options.method ?? "GET",
        path: options.path,
        headers: { host: options.host, origin: `http://${options.host}`, ...options.headers },
        timeout: 10_000,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

/** Sends every request of a connect-node client with this Host, as a rebinding page's browser would. */
const withHost =
  (host: string): Interceptor =>
  (next) =>
  (req) => {
    req.header.set("host", host);
    req.header.set("origin", `http://${host}`);
    return next(req);
  };

const contact = (firmId: string) => ({ firmId, email: "dns@example.com", firstName: "D", lastName: "R" });

/** grpc-js with its :authority set, as a client addressing the service by that name does. */
function grpcCall(url: string, authority: string): Promise<grpc.ServiceError | null> {
  const client = new grpc.Client(new URL(url).host, grpc.credentials.createInsecure(), {
    "grpc.default_authority": authority,
  });
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      "/grpc.health.v1.Health/Check",
      () => Buffer.alloc(0),
      (bytes: Buffer) => bytes,
      {},
      new grpc.Metadata(),
      { deadline: Date.now() + 10_000 },
      (error) => {
        client.close();
        resolve(error ?? null);
      },
    );
  });
}

describe("without API keys, by default", () => {
  it("refuses a foreign Host on a plain route with a 403 text naming the host and ALLOWED_HOSTS", async () => {
    for (const path of ["/healthz", "/readyz", "/metrics"]) {
      const reply = await request(anonymous.url, { path, host: `${EVIL}:${anonymous.port}` });
      expect(reply.status).toBe(403);
      expect(reply.body).toMatch(/host "evil\.example\.com:\d+" is not served.*ALLOWED_HOSTS/);
    }
  });

  it("refuses a foreign Host on Connect JSON (403 permission_denied) and writes nothing", async () => {
    const firmId = uniqueFirm("dns");
    const reply = await request(anonymous.url, {
      method: "POST",
      path: "/contacts.v1.ContactService/UpsertContact",
      host: EVIL,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(contact(firmId)),
    });
    expect(reply.status).toBe(403);
    const error = JSON.parse(reply.body) as { code: string; message: string };
    expect(error.code).toBe("permission_denied");
    expect(error.message).toMatch(/evil\.example\.com.*ALLOWED_HOSTS/);
    expect(await storedContacts(firmId)).toEqual([]);
  });

  it("refuses a foreign Host as PERMISSION_DENIED to connect-node (Connect, gRPC-Web) and grpc-js clients", async () => {
    const firmId = uniqueFirm("dns");
    for (const transport of [
      createConnectTransport({ baseUrl: anonymous.url, httpVersion: "1.1", interceptors: [withHost(EVIL)] }),
      createGrpcWebTransport({ baseUrl: anonymous.url, httpVersion: "1.1", interceptors: [withHost(EVIL)] }),
    ]) {
      const refused = await failure(createClient(ContactService, transport).upsertContact(contact(firmId)));
      expect(refused.code).toBe("PERMISSION_DENIED");
      expect(refused.message).toMatch(/evil\.example\.com.*ALLOWED_HOSTS/);
    }
    const error = await grpcCall(anonymous.url, EVIL);
    expect(error?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(error?.details).toMatch(/evil\.example\.com.*ALLOWED_HOSTS/);
    expect(await storedContacts(firmId)).toEqual([]);
  });

  it("serves the loopback names and the bind address, with any port and in any letter case", async () => {
    for (const host of [
      "localhost",
      `LocalHost:${anonymous.port}`,
      `127.0.0.1:${anonymous.port}`,
      "[::1]:1",
    ]) {
      expect((await request(anonymous.url, { path: "/healthz", host })).status).toBe(200);
    }
    expect(await grpcCall(anonymous.url, `localhost:${anonymous.port}`)).toBeNull();
    const firmId = uniqueFirm("dns");
    const transport = createConnectTransport({
      baseUrl: anonymous.url,
      httpVersion: "1.1",
      interceptors: [withHost("localhost")],
    });
    await createClient(ContactService, transport).upsertContact(contact(firmId));
    expect(await storedContacts(firmId)).toHaveLength(1);
  });
});

describe("ALLOWED_HOSTS", () => {
  it("replaces the default list: its names are served, loopback names then are not", async () => {
    const app = await startTestApp({ ALLOWED_HOSTS: "contacts.internal, 10.0.0.5" });
    try {
      expect((await request(app.url, { path: "/healthz", host: "Contacts.Internal:8080" })).status).toBe(200);
      expect((await request(app.url, { path: "/healthz", host: "10.0.0.5" })).status).toBe(200);
      expect((await request(app.url, { path: "/healthz", host: "localhost" })).status).toBe(403);
    } finally {
      await app.close();
    }
  });

  it("* serves any Host", async () => {
    const app = await startTestApp({ ALLOWED_HOSTS: "*" });
    try {
      expect((await request(app.url, { path: "/healthz", host: EVIL })).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});

describe("with API keys", () => {
  it("does not check Host: the keys protect every ContactService call", async () => {
    const dir = await mkdtemp(join(tmpdir(), "contacts-hosts-"));
    const token = "tok-hosts-1";
    const keys = join(dir, "keys.json");
    const sha256 = createHash("sha256").update(token).digest("hex");
    await writeFile(keys, JSON.stringify([{ name: "crm", sha256, firms: ["*"] }]));
    const app = await startTestApp({ API_KEYS_FILE: keys });
    try {
      expect((await request(app.url, { path: "/healthz", host: EVIL })).status).toBe(200);
      const firmId = uniqueFirm("dns");
      const transport = createConnectTransport({
        baseUrl: app.url,
        httpVersion: "1.1",
        interceptors: [withHost(EVIL)],
      });
      const client = createClient(ContactService, transport);
      expect((await failure(client.upsertContact(contact(firmId)))).code).toBe("UNAUTHENTICATED");
      await client.upsertContact(contact(firmId), { headers: { authorization: `Bearer ${token}` } });
      expect(await storedContacts(firmId)).toHaveLength(1);
    } finally {
      await app.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

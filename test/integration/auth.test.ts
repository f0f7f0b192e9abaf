import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UpsertResult } from "../../gen/contacts/v1/contact_service_pb.js";
import {
  connectJsonH1,
  connectProtoH2,
  failure,
  grpcJsClient,
  type UpsertClient,
} from "../support/clients.js";
import { closeSqlPool, storedContacts, TEST_DATABASE_URL, uniqueFirm } from "../support/database.js";
import { REPO_ROOT, type ServerProcess, spawnServer } from "../support/server-process.js";

const TOKEN = "tok-crm-sync-7f3a";
const sha = (token: string) => createHash("sha256").update(token).digest("hex");
const granted = uniqueFirm("granted");
const other = uniqueFirm("other");
const bearer = { authorization: `Bearer ${TOKEN}` };

// Every temporary folder holding a keys file, removed when the file's tests end.
const tempDirs: string[] = [];
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), "contacts-keys-"));
  tempDirs.push(dir);
  return dir;
};
afterAll(async () => {
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

let keysFile: string;
let server: ServerProcess;
let clients: UpsertClient[];
beforeAll(async () => {
  const dir = await tempDir();
  keysFile = join(dir, "keys.json");
  await writeFile(keysFile, JSON.stringify([{ name: "crm-sync", sha256: sha(TOKEN), firms: [granted] }]));
  server = await spawnServer({ API_KEYS_FILE: keysFile });
  clients = [grpcJsClient(server.url), connectJsonH1(server.url), connectProtoH2(server.url)];
});
afterAll(async () => {
  for (const client of clients) client.close();
  await server.stop();
  await closeSqlPool();
});

const contact = (firmId: string) => ({ firmId, email: "auth@example.com", firstName: "Au", lastName: "Th" });

describe("with API_KEYS_FILE set, ContactService calls need a token granted the firm", () => {
  it("refuses a call without a token, or with an unknown one, as UNAUTHENTICATED", async () => {
    for (const client of clients) {
      expect((await failure(client.upsert(contact(granted)))).code).toBe("UNAUTHENTICATED");
      expect(
        (await failure(client.upsert(contact(granted), { headers: { authorization: "Bearer nope" } }))).code,
      ).toBe("UNAUTHENTICATED");
    }
    expect(await storedContacts(granted)).toEqual([]);
  });

  it("refuses a firm the token is not granted as PERMISSION_DENIED, writing nothing", async () => {
    for (const client of clients) {
      expect((await failure(client.upsert(contact(other), { headers: bearer }))).code).toBe(
        "PERMISSION_DENIED",
      );
    }
    expect(await storedContacts(other)).toEqual([]);
  });

  it("checks the firm of every RPC: another firm is PERMISSION_DENIED, the granted one reaches the handler", async () => {
    const granter = clients[0] as UpsertClient;
    const created = await granter.upsert(
      { firmId: granted, email: "every-rpc@example.com", firstName: "E", lastName: "R" },
      { headers: bearer },
    );
    const id = created.contact?.id ?? "";
    const before = await storedContacts(granted);
    const calls = (firmId: string, client: UpsertClient) => [
      () => client.get({ firmId, id }, { headers: bearer }),
      () => client.list({ firmId }, { headers: bearer }),
      () =>
        client.update(
          { firmId, contact: { id, city: "X" }, updateMask: { paths: ["city"] } },
          { headers: bearer },
        ),
      () => client.assign({ firmId, contactId: id, clientIds: ["c"] }, { headers: bearer }),
      () => client.unassign({ firmId, contactId: id, clientIds: ["c"] }, { headers: bearer }),
      () => client.changes({ firmId, contactId: id }, { headers: bearer }),
      () => client.delete({ firmId, id }, { headers: bearer }),
    ];
    for (const client of clients) {
      for (const call of calls(other, client)) expect((await failure(call())).code).toBe("PERMISSION_DENIED");
      // A firm id with surrounding spaces is the same firm: refused too.
      expect((await failure(client.get({ firmId: ` ${other} `, id }, { headers: bearer }))).code).toBe(
        "PERMISSION_DENIED",
      );
    }
    expect(await storedContacts(granted)).toEqual(before);
    for (const call of calls(granted, granter)) await call();
    expect(await storedContacts(granted)).toEqual(before.filter((row) => row.id !== id));
  });

  it("serves a granted firm, and logs the principal and the caller's request id", async () => {
    const response = await (clients[0] as UpsertClient).upsert(contact(granted), {
      headers: { ...bearer, "x-request-id": "req-42" },
    });
    expect(response.result).toBe(UpsertResult.CREATED);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const line = server
      .output()
      .split("\n")
      .find((l) => l.includes('"requestId":"req-42"'));
    expect(JSON.parse(line ?? "{}")).toMatchObject({
      msg: "call",
      method: "contacts.v1.ContactService/UpsertContact",
      code: "OK",
      firm: granted,
      principal: "crm-sync",
      peer: expect.stringMatching(/^(::ffff:)?127\.0\.0\.1:\d+$/),
    });
    expect(line).not.toContain("auth@example.com"); // bodies are personal data, never logged
  });

  it("returns the request id in a response header, a new one when the caller sent none", async () => {
    const call = (headers: Record<string, string>) =>
      fetch(`${server.url}/contacts.v1.ContactService/UpsertContact`, {
        method: "POST",
        headers: { "content-type": "application/json", ...bearer, ...headers },
        body: JSON.stringify(contact(granted)),
      });
    expect((await call({ "x-request-id": "abc-1" })).headers.get("x-request-id")).toBe("abc-1");
    expect((await call({})).headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const refused = await fetch(`${server.url}/contacts.v1.ContactService/UpsertContact`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "abc-2" },
      body: JSON.stringify(contact(granted)),
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("x-request-id")).toBe("abc-2");
  });

  it("leaves health open for load balancers", async () => {
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    const check = await fetch(`${server.url}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(await check.json()).toEqual({ status: "SERVING" });
  });

  it("exports call, latency, retry and pool metrics at /metrics", async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(
      /contacts_rpc_calls_total\{method="contacts.v1.ContactService\/UpsertContact",code="OK"\} \d+/,
    );
    expect(text).toMatch(/contacts_rpc_calls_total\{[^}]*code="PERMISSION_DENIED"\} \d+/);
    expect(text).toMatch(
      /contacts_rpc_duration_seconds_bucket\{le="0.01",method="contacts.v1.ContactService\/UpsertContact"\}/,
    );
    expect(text).toMatch(/contacts_db_pool_connections_in_use \d+/);
    expect(text).toMatch(/contacts_db_pool_waiting \d+/);
    expect(text).toContain("contacts_db_transaction_retries_total");
  });
});

describe("startup without API keys", () => {
  const start = (env: Record<string, string>) =>
    promisify(execFile)(process.execPath, ["dist/src/main.js"], {
      cwd: REPO_ROOT,
      env: { ...process.env, PORT: "0", DATABASE_URL: TEST_DATABASE_URL, ...env },
      timeout: 20_000,
    }).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );

  it("refuses a non-loopback address unless AUTH=disabled, naming the setting", async () => {
    const refused = await start({ HOST: "0.0.0.0" });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/HOST="0.0.0.0" is not a loopback address.*API_KEYS_FILE.*AUTH=disabled/);
  });

  it("says at startup that authentication is off on loopback", async () => {
    const open = await spawnServer();
    try {
      expect(open.output()).toMatch(/"authentication":"off"/);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(open.output()).toMatch(/authentication is off/);
    } finally {
      await open.stop();
    }
  });

  it("stops with a message naming the file when API_KEYS_FILE is bad", async () => {
    const bad = join(await tempDir(), "bad.json");
    await writeFile(bad, JSON.stringify([{ name: "x", sha256: "short", firms: ["a"] }]));
    const result = await start({ API_KEYS_FILE: bad, PORT: "x" });
    // One configuration message naming every bad setting, the keys file among them, and no stack trace.
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("contacts: invalid configuration: PORT=");
    expect(result.stderr).toContain(`API_KEYS_FILE=${JSON.stringify(bad)} [0].sha256 must be`);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("refuses to start when API_KEYS_FILE holds no keys, which would refuse every call", async () => {
    const dir = await mkdtemp(join(tmpdir(), "contacts-keys-"));
    const empty = join(dir, "empty.json");
    await writeFile(empty, "[]");
    const result = await start({ API_KEYS_FILE: empty });
    await rm(dir, { recursive: true, force: true });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`API_KEYS_FILE=${JSON.stringify(empty)} holds no keys`);
  });
});

import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRegistry, fromBinary, toJson } from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { file_google_rpc_error_details } from "../../gen-deps/google/rpc/error_details_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { closeSqlPool, openTestConnection, sql, storedContacts, uniqueFirm } from "../support/database.js";

// The REST routes of the google.api.http annotations, called with fetch against the real server, each answer
// compared with the same call over Connect JSON on the same server.

type Json = Record<string, unknown>;
interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly json: Json;
}

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ CORS_ORIGINS: "https://app.example.com" });
});
afterAll(async () => {
  await app.close();
  await closeSqlPool();
});

async function rest(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  base = app.url,
): Promise<Answer> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text ? (JSON.parse(text) as Json) : {} };
}

/** The same RPC over Connect JSON: POST /contacts.v1.ContactService/<method>. */
async function connect(
  rpc: string,
  body: unknown,
  headers: Record<string, string> = {},
  base = app.url,
): Promise<Answer> {
  const response = await fetch(`${base}/contacts.v1.ContactService/${rpc}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, json: (await response.json()) as Json };
}

/** Connect JSON with every enum value in the REST form, for comparing answers. */
function restForm(json: unknown): unknown {
  return JSON.parse(
    JSON.stringify(json).replace(
      /"(UPSERT_RESULT|MATCH_KEY|CHANGE_KIND)_([A-Z_]+)"/g,
      (_, _prefix: string, name: string) => `"${name.toLowerCase()}"`,
    ),
  );
}

const registry = createRegistry(file_google_rpc_error_details);
/** A Connect error's details (decoded from their bytes) as the REST error carries them: `@type` and fields. */
function connectDetails(json: Json): unknown[] {
  return ((json.details ?? []) as { type: string; value: string }[]).map((d) => {
    const desc = registry.getMessage(d.type);
    if (!desc) throw new Error(`unknown detail ${d.type}`);
    return {
      "@type": `type.googleapis.com/${d.type}`,
      ...(toJson(desc, fromBinary(desc, base64Decode(d.value))) as Json),
    };
  });
}

const ann = { firstName: "Ann", lastName: "Lee", email: "ann@example.com" };
const contactsOf = (firm: string) => `/v1/firms/${encodeURIComponent(firm)}/contacts`;

describe("the API reference's own examples", () => {
  it("creates, then updates, then refuses a bad email with 400 naming email", async () => {
    const firm = uniqueFirm("rest-ref");
    const created = await rest("POST", `${contactsOf(firm)}:upsert`, ann);
    expect(created.status).toBe(200);
    expect(created.json.result).toBe("created");
    expect(created.json.contact).toMatchObject({ ...ann, firmId: firm });

    const updated = await rest("POST", `${contactsOf(firm)}:upsert`, { ...ann, title: "CFO" });
    expect(updated.status).toBe(200);
    expect(updated.json).toMatchObject({ result: "updated", matchedBy: "email", changedFields: "title" });
    expect((updated.json.contact as Json).id).toBe((created.json.contact as Json).id);

    const bad = await rest("POST", `${contactsOf(firm)}:upsert`, { ...ann, email: "not-an-email" });
    expect(bad.status).toBe(400);
    const error = bad.json.error as Json;
    expect(error).toMatchObject({ code: 400, status: "INVALID_ARGUMENT" });
    expect(error.message).toMatch(/^email: /);
    expect(error.details).toEqual([
      {
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        fieldViolations: [{ field: "email", description: expect.any(String) }],
      },
    ]);
    expect(await storedContacts(firm)).toHaveLength(1);
  });
});

describe("every route answers as the same call over Connect", () => {
  const firm = uniqueFirm("rest-routes");
  let id: string;

  it("POST …/contacts:upsert: the contact Connect then reads, with the result in the REST form", async () => {
    const answer = await rest("POST", `${contactsOf(firm)}:upsert`, { ...ann, trackingId: "crm-1" });
    expect(answer.status).toBe(200);
    id = (answer.json.contact as Json).id as string;
    const got = await connect("GetContact", { firmId: firm, id });
    expect(answer.json.contact).toEqual(got.json.contact);
    // The same upsert over Connect now matches it by tracking id, and REST's second answer is Connect's.
    const again = await connect("UpsertContact", { firmId: firm, ...ann, trackingId: "crm-1" });
    const restAgain = await rest("POST", `${contactsOf(firm)}:upsert`, { ...ann, trackingId: "crm-1" });
    expect(again.json.result).toBe("UPSERT_RESULT_UPDATED");
    expect(restAgain.json).toEqual(restForm(again.json));
    expect(restAgain.json.matchedBy).toBe("tracking_id");
  });

  it("GET …/contacts/{id}", async () => {
    const answer = await rest("GET", `${contactsOf(firm)}/${id}`);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual((await connect("GetContact", { firmId: firm, id })).json);
  });

  it("GET …/contacts with query parameters", async () => {
    await connect("UpsertContact", {
      firmId: firm,
      firstName: "Bo",
      lastName: "Ng",
      email: "bo@example.com",
    });
    const page = await rest("GET", `${contactsOf(firm)}?pageSize=1`);
    expect(page.status).toBe(200);
    expect(page.json).toEqual((await connect("ListContacts", { firmId: firm, pageSize: 1 })).json);
    expect(page.json.contacts).toHaveLength(1);
    const token = page.json.nextPageToken as string;
    const next = await rest("GET", `${contactsOf(firm)}?page_size=1&pageToken=${encodeURIComponent(token)}`);
    expect(next.json).toEqual(
      (await connect("ListContacts", { firmId: firm, pageSize: 1, pageToken: token })).json,
    );
    const after = (page.json.contacts as Json[])[0]?.updateTime as string;
    const since = await rest("GET", `${contactsOf(firm)}?updatedAfter=${after}&showDeleted=true`);
    expect(since.json).toEqual(
      (await connect("ListContacts", { firmId: firm, updatedAfter: after, showDeleted: true })).json,
    );
  });

  it("PATCH …/contacts/{contact.id} with updateMask in the query: the contact Connect then reads", async () => {
    const answer = await rest("PATCH", `${contactsOf(firm)}/${id}?updateMask=title,city`, {
      title: "CEO",
      city: "Oslo",
    });
    expect(answer.status).toBe(200);
    expect(answer.json.contact).toMatchObject({ id, title: "CEO", city: "Oslo" });
    expect(answer.json.contact).toEqual((await connect("GetContact", { firmId: firm, id })).json.contact);
  });

  it("POST …/contacts/{contact_id}:assign and :unassign", async () => {
    const assigned = await rest("POST", `${contactsOf(firm)}/${id}:assign`, { clientIds: ["c1", "c2"] });
    expect(assigned.status).toBe(200);
    expect(assigned.json.contact).toMatchObject({ clientIds: ["c1", "c2"] });
    expect(assigned.json.contact).toEqual((await connect("GetContact", { firmId: firm, id })).json.contact);
    const unassigned = await rest("POST", `${contactsOf(firm)}/${id}:unassign`, { clientIds: ["c1"] });
    expect(unassigned.json.contact).toEqual((await connect("GetContact", { firmId: firm, id })).json.contact);
    expect((unassigned.json.contact as Json).clientIds).toEqual(["c2"]);
  });

  it("GET …/contacts/{contact_id}/changes, kinds in the REST form", async () => {
    const answer = await rest("GET", `${contactsOf(firm)}/${id}/changes?pageSize=50`);
    expect(answer.status).toBe(200);
    const viaConnect = await connect("ListContactChanges", { firmId: firm, contactId: id, pageSize: 50 });
    expect(answer.json).toEqual(restForm(viaConnect.json));
    expect((answer.json.changes as Json[]).map((c) => c.kind)).toEqual([
      "unassigned",
      "assigned",
      "updated",
      "created",
    ]);
  });

  it("POST …/contacts:batchUpsert", async () => {
    const answer = await rest("POST", `${contactsOf(firm)}:batchUpsert`, {
      requests: [
        { ...ann, trackingId: "crm-1", phone: "+47 1" },
        { firstName: "Cy", lastName: "Oh", email: "cy@example.com" },
        { firstName: "Di", lastName: "Xu", email: "bad" },
      ],
    });
    expect(answer.status).toBe(200);
    const [first, second, third] = answer.json.results as [Json, Json, Json];
    expect(
      [first.response, second.response, third.response].map((r) => (r as Json | undefined)?.result),
    ).toEqual(["updated", "created", undefined]);
    // The failing item's error is the one the same item gets in a batch over Connect (details as Any JSON).
    const viaConnect = await connect("BatchUpsertContacts", {
      firmId: uniqueFirm("rest-batch"),
      requests: [{ firstName: "Di", lastName: "Xu", email: "bad" }],
    });
    expect(third.error).toEqual((viaConnect.json.results as [Json])[0].error);
    expect(((third.error as Json).details as [Json])[0]["@type"]).toBe(
      "type.googleapis.com/google.rpc.BadRequest",
    );
    const stored = await connect("GetContact", { firmId: firm, id });
    expect((first.response as Json).contact).toEqual(stored.json.contact);
  });

  it("DELETE …/contacts/{id}: Connect then finds nothing", async () => {
    const answer = await rest("DELETE", `${contactsOf(firm)}/${id}`);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({});
    const gone = await rest("GET", `${contactsOf(firm)}/${id}`);
    const viaConnect = await connect("GetContact", { firmId: firm, id });
    expect(viaConnect.json.code).toBe("not_found");
    expect(gone.status).toBe(404);
    expect(gone.json.error).toEqual({
      code: 404,
      status: "NOT_FOUND",
      message: viaConnect.json.message,
      details: [],
    });
  });
});

/** curl's answer to one REST call: the JSON body and the HTTP status (curl's own client, not fetch). */
function curl(method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const args = ["-sS", "-X", method, "-w", "\n%{http_code}", `${app.url}${path}`];
  if (body !== undefined) args.push("-H", "content-type: application/json", "-d", JSON.stringify(body));
  return new Promise((resolve, reject) =>
    execFile("curl", args, { timeout: 20_000 }, (error, stdout) => {
      if (error) return reject(error);
      const at = stdout.lastIndexOf("\n");
      resolve({ status: Number(stdout.slice(at + 1)), json: JSON.parse(stdout.slice(0, at)) as Json });
    }),
  );
}

describe("every route from curl", () => {
  it("answers as Connect does, route by route", { timeout: 60_000 }, async () => {
    const firm = uniqueFirm("rest-curl");
    const base = contactsOf(firm);
    const created = await curl("POST", `${base}:upsert`, { ...ann, trackingId: "c-1" });
    expect(created).toMatchObject({ status: 200, json: { result: "created" } });
    const id = (created.json.contact as Json).id as string;
    const stored = async () => (await connect("GetContact", { firmId: firm, id })).json;
    expect(created.json.contact).toEqual((await stored()).contact);
    expect((await curl("GET", `${base}/${id}`)).json).toEqual(await stored());
    expect((await curl("GET", `${base}?pageSize=10`)).json).toEqual(
      (await connect("ListContacts", { firmId: firm, pageSize: 10 })).json,
    );
    const patched = await curl("PATCH", `${base}/${id}?updateMask=city`, { city: "Bergen" });
    expect(patched.json.contact).toEqual((await stored()).contact);
    const assigned = await curl("POST", `${base}/${id}:assign`, { investmentEntityIds: ["f-1"] });
    expect(assigned.json.contact).toEqual((await stored()).contact);
    const unassigned = await curl("POST", `${base}/${id}:unassign`, { investmentEntityIds: ["f-1"] });
    expect(unassigned.json.contact).toEqual((await stored()).contact);
    const batch = await curl("POST", `${base}:batchUpsert`, {
      requests: [{ ...ann, trackingId: "c-1", city: "Oslo" }],
    });
    expect(((batch.json.results as [Json])[0].response as Json).contact).toEqual((await stored()).contact);
    expect((await curl("GET", `${base}/${id}/changes`)).json).toEqual(
      restForm((await connect("ListContactChanges", { firmId: firm, contactId: id })).json),
    );
    expect(await curl("DELETE", `${base}/${id}`)).toEqual({ status: 200, json: {} });
    const gone = await curl("GET", `${base}/${id}`);
    expect(gone.status).toBe(404);
    expect((gone.json.error as Json).message).toBe((await stored()).message);
  });
});

describe("errors carry the status, message and details Connect's do", () => {
  it("ALREADY_EXISTS is 409 with the same ErrorInfo", async () => {
    const firm = uniqueFirm("rest-409");
    await rest("POST", `${contactsOf(firm)}:upsert`, ann);
    const clash = { ...ann, trackingId: "new-key" };
    const answer = await rest("POST", `${contactsOf(firm)}:upsert`, clash);
    const viaConnect = await connect("UpsertContact", { firmId: firm, ...clash });
    expect(answer.status).toBe(409);
    expect(viaConnect.status).toBe(409);
    expect(answer.json.error).toEqual({
      code: 409,
      status: "ALREADY_EXISTS",
      message: viaConnect.json.message,
      details: connectDetails(viaConnect.json),
    });
    expect(((answer.json.error as Json).details as Json[])[0]).toMatchObject({ reason: "EMAIL_TAKEN" });
  });

  it("INVALID_ARGUMENT is 400 with the same BadRequest, for every field Connect names", async () => {
    const firm = uniqueFirm("rest-400");
    const bad = { firstName: "", lastName: "x".repeat(201), email: "a@b" };
    const answer = await rest("POST", `${contactsOf(firm)}:upsert`, bad);
    const viaConnect = await connect("UpsertContact", { firmId: firm, ...bad });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toEqual({
      code: 400,
      status: "INVALID_ARGUMENT",
      message: viaConnect.json.message,
      details: connectDetails(viaConnect.json),
    });
  });

  it("an unknown body field is refused as on Connect, and so is an unknown query parameter", async () => {
    const firm = uniqueFirm("rest-unknown");
    const answer = await rest("POST", `${contactsOf(firm)}:upsert`, { ...ann, firstname: "Ann" });
    const viaConnect = await connect("UpsertContact", { firmId: firm, ...ann, firstname: "Ann" });
    expect(answer.status).toBe(400);
    expect((answer.json.error as Json).message).toBe("firstname: unknown field");
    expect((answer.json.error as Json).details).toEqual(connectDetails(viaConnect.json));
    const query = await rest("GET", `${contactsOf(firm)}?pagesize=3`);
    expect(query.status).toBe(400);
    expect((query.json.error as Json).message).toBe("pagesize: unknown field");
    // With the whole request in the body, no field comes from the query.
    const upsertQuery = await rest("POST", `${contactsOf(firm)}:upsert?email=x@example.com`, ann);
    expect(upsertQuery.status).toBe(400);
    expect(await storedContacts(firm)).toEqual([]);
  });

  it("a firm in the path and another in the body is 400 naming firmId; the same firm in both is fine", async () => {
    const firm = uniqueFirm("rest-firm");
    const other = await rest("POST", `${contactsOf(firm)}:upsert`, { ...ann, firmId: "another-firm" });
    expect(other.status).toBe(400);
    expect((other.json.error as Json).details).toEqual([
      {
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        fieldViolations: [{ field: "firmId", description: "the body's value differs from the path's" }],
      },
    ]);
    const snake = await rest("POST", `${contactsOf(firm)}:upsert`, { ...ann, firm_id: "another-firm" });
    expect(snake.status).toBe(400);
    expect(await storedContacts(firm)).toEqual([]);
    const same = await rest("POST", `${contactsOf(firm)}:upsert`, { ...ann, firmId: firm });
    expect(same.json.result).toBe("created");
    // PATCH: the body's id must be the path's.
    const id = (same.json.contact as Json).id as string;
    const patch = await rest("PATCH", `${contactsOf(firm)}/${id}?updateMask=title`, {
      id: "999",
      title: "x",
    });
    expect(patch.status).toBe(400);
    expect((patch.json.error as Json).message).toBe("contact.id: the body's value differs from the path's");
  });

  it("path values are percent-decoded once, and an encoded / is refused", async () => {
    const firm = `${uniqueFirm("rest-pct").slice(0, 50)}%41 b`;
    const created = await rest("POST", `${contactsOf(firm)}:upsert`, ann);
    expect(created.status).toBe(200);
    expect((created.json.contact as Json).firmId).toBe(firm);
    expect(
      (await connect("GetContact", { firmId: firm, id: (created.json.contact as Json).id })).status,
    ).toBe(200);
    const slash = await rest("GET", "/v1/firms/a%2Fb/contacts/1");
    expect(slash.status).toBe(400);
    expect((slash.json.error as Json).message).toBe('firmId: may not contain "/" in the path');
    const malformed = await rest("GET", "/v1/firms/a%zz/contacts/1");
    expect(malformed.status).toBe(400);
  });

  it("an unknown path under /v1/ is 404 and a known path with another method 405, both as REST errors", async () => {
    const missing = await rest("GET", "/v1/firms/f/nothing");
    expect(missing.status).toBe(404);
    expect((missing.json.error as Json).status).toBe("NOT_FOUND");
    const wrongMethod = await rest("PUT", "/v1/firms/f/contacts/1");
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("GET, PATCH, DELETE");
  });

  it("a body that is not JSON, or not an object, is 400", async () => {
    const firm = uniqueFirm("rest-json");
    expect((await rest("POST", `${contactsOf(firm)}:upsert`, "{oops")).status).toBe(400);
    expect((await rest("POST", `${contactsOf(firm)}:upsert`, "[1]")).status).toBe(400);
  });

  it("a body over the RPC's limit is 429 RESOURCE_EXHAUSTED, as on Connect", async () => {
    const firm = uniqueFirm("rest-big");
    const answer = await rest("POST", `${contactsOf(firm)}:upsert`, { ...ann, note: "x".repeat(300 * 1024) });
    expect(answer.status).toBe(429);
    expect((answer.json.error as Json).status).toBe("RESOURCE_EXHAUSTED");
  });
});

describe("what every call shares", () => {
  it("a dry run writes nothing", async () => {
    const firm = uniqueFirm("rest-dry");
    const answer = await rest("POST", `${contactsOf(firm)}:upsert`, { ...ann, validateOnly: true });
    expect(answer.json.result).toBe("created");
    expect(await storedContacts(firm)).toEqual([]);
  });

  it("the caller's x-request-id comes back, and a stored row is the one the answer shows", async () => {
    const firm = uniqueFirm("rest-rid");
    const answer = await rest("POST", `${contactsOf(firm)}:upsert`, ann, { "x-request-id": "rest-call-1" });
    expect(answer.headers.get("x-request-id")).toBe("rest-call-1");
    const rows = await sql<{ id: string; email: string }>(
      "SELECT id, email FROM contacts WHERE firm_id = ?",
      [firm],
    );
    expect(rows).toEqual([{ id: (answer.json.contact as Json).id, email: ann.email }]);
  });

  it("works over h2c as over HTTP/1.1", async () => {
    const firm = uniqueFirm("rest-h2");
    const session = http2.connect(app.url);
    try {
      const answer = await new Promise<{ status: number; json: Json }>((resolve, reject) => {
        const stream = session.request({
          ":method": "POST",
          ":path": `${contactsOf(firm)}:upsert`,
          "content-type": "application/json",
        });
        let status = 0;
        let text = "";
        stream.on("response", (headers) => {
          status = Number(headers[":status"]);
        });
        stream.setEncoding("utf8");
        stream.on("data", (chunk: string) => {
          text += chunk;
        });
        stream.on("end", () => resolve({ status, json: JSON.parse(text) as Json }));
        stream.on("error", reject);
        stream.end(JSON.stringify(ann));
      });
      expect(answer).toMatchObject({ status: 200, json: { result: "created", contact: { firmId: firm } } });
    } finally {
      session.close();
    }
  });

  it("a REST call is logged and counted as a call of its RPC", async () => {
    const count = async () => {
      const text = await (await fetch(`${app.url}/metrics`)).text();
      const line = text
        .split("\n")
        .find(
          (l) =>
            l.startsWith("contacts_rpc_calls_total{") &&
            l.includes("GetContact") &&
            l.includes('code="NOT_FOUND"'),
        );
      return Number(line?.split(" ").at(-1) ?? 0);
    };
    const before = await count();
    const answer = await rest("GET", `${contactsOf(uniqueFirm("rest-metrics"))}/12345`);
    expect(answer.status).toBe(404);
    expect(await count()).toBe(before + 1);
  });

  it("a malformed X-Server-Timeout is refused; a generous one is accepted", async () => {
    const firm = uniqueFirm("rest-deadline");
    const bad = await rest("GET", `${contactsOf(firm)}`, undefined, { "x-server-timeout": "soon" });
    expect(bad.status).toBe(400);
    const ok = await rest("GET", `${contactsOf(firm)}`, undefined, {
      "x-server-timeout": "30.5",
      "grpc-timeout": "1n",
    });
    expect(ok.status).toBe(200);
  });

  it("CORS preflight allows PATCH and DELETE for a listed origin", async () => {
    const response = await fetch(`${app.url}/v1/firms/f/contacts/1`, {
      method: "OPTIONS",
      headers: { origin: "https://app.example.com", "access-control-request-method": "PATCH" },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-methods")).toContain("PATCH");
    expect(response.headers.get("access-control-allow-methods")).toContain("DELETE");
    expect(response.headers.get("access-control-allow-headers")).toContain("X-Server-Timeout");
  });
});

describe("deadlines and overload, as on Connect", () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await startTestApp({ FIRM_MAX_IN_FLIGHT: "1" });
  });
  afterAll(async () => {
    await limited?.close();
  });

  it("X-Server-Timeout ends a call blocked on a lock with 504; a second call of the busy firm is 429 with Retry-After", {
    timeout: 30_000,
  }, async () => {
    const firm = uniqueFirm("rest-busy");
    const path = `${contactsOf(firm)}:upsert`;
    await rest("POST", path, { ...ann, trackingId: "T1" }, {}, limited.url);
    const blocker = await openTestConnection();
    try {
      await blocker.beginTransaction();
      await blocker.query("SELECT id FROM contacts WHERE firm_id = ? FOR UPDATE", [firm]);
      const started = Date.now();
      const blocked = rest(
        "POST",
        path,
        { trackingId: "T1", title: "late" },
        { "x-server-timeout": "0.5" },
        limited.url,
      );
      await new Promise((resolve) => setTimeout(resolve, 150));
      const busy = await rest("POST", path, { trackingId: "T1", title: "busy" }, {}, limited.url);
      expect(busy.status).toBe(429);
      expect(busy.headers.get("retry-after")).toBe("1");
      expect(busy.json.error).toMatchObject({
        status: "RESOURCE_EXHAUSTED",
        details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "0.250s" }],
      });
      const late = await blocked;
      expect(late.status).toBe(504);
      expect((late.json.error as Json).status).toBe("DEADLINE_EXCEEDED");
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await blocker.rollback();
      await blocker.end();
    }
    expect(await storedContacts(firm)).toEqual([expect.objectContaining({ tracking_id: "T1", title: null })]);
  });
});

describe("with API keys, the same keys and firm grants as on Connect", () => {
  const TOKEN = "tok-rest-3b9e";
  const granted = uniqueFirm("rest-granted");
  let keyed: TestApp;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "rest-keys-"));
    const sha256 = createHash("sha256").update(TOKEN).digest("hex");
    await writeFile(join(dir, "keys.json"), JSON.stringify([{ name: "rest", sha256, firms: [granted] }]));
    keyed = await startTestApp({ API_KEYS_FILE: join(dir, "keys.json") });
  });
  afterAll(async () => {
    await keyed?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("401 without a token, 403 for a firm not granted, 200 with the token for its firm", async () => {
    const path = `${contactsOf(granted)}:upsert`;
    const none = await rest("POST", path, ann, {}, keyed.url);
    const noneConnect = await connect("UpsertContact", { firmId: granted, ...ann }, {}, keyed.url);
    expect(none.status).toBe(401);
    expect(none.json.error).toMatchObject({ status: "UNAUTHENTICATED", message: noneConnect.json.message });
    const bearer = { authorization: `Bearer ${TOKEN}` };
    const other = await rest("POST", `${contactsOf("not-granted")}:upsert`, ann, bearer, keyed.url);
    expect(other.status).toBe(403);
    expect((other.json.error as Json).status).toBe("PERMISSION_DENIED");
    const ok = await rest("POST", path, ann, bearer, keyed.url);
    expect(ok.status).toBe(200);
    expect(ok.json.result).toBe("created");
  });
});

import http from "node:http";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { Connection } from "mysql2/promise";
import { afterAll, describe, expect, it } from "vitest";
import { closeSqlPool, openTestConnection, sql, uniqueFirm } from "../support/database.js";
import { spawnServer } from "../support/server-process.js";

// At shutdown an HTTP/1.1 keep-alive connection can only be ended without crossing a request by answering its
// call in flight with `Connection: close` (src/http/connections.ts): a client that reuses the socket after that
// answer would be reset. This test holds one call in flight behind a row lock through SIGTERM and checks the
// header of its answer. It waits until the listener refuses connections before letting the call finish, so it
// holds whether the server closes the listener at once or accepts for a linger first.

afterAll(async () => {
  await closeSqlPool();
});

const PATH = "/contacts.v1.ContactService/UpsertContact";

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** One Connect JSON call over `agent`: its status, headers and body. */
function post(agent: http.Agent, url: string, body: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}${PATH}`,
      { method: "POST", agent, headers: { "content-type": "application/json" } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.setTimeout(15_000, () => req.destroy(new Error("TIMEOUT")));
    req.end(JSON.stringify(body));
  });
}

/** Resolves once a new TCP connection to `url` is refused: the listener is closed. */
async function untilRefused(url: string, timeoutMs: number): Promise<void> {
  const { hostname, port } = new URL(url);
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect(Number(port), hostname);
      socket.once("connect", () => {
        socket.destroy();
        resolve(false);
      });
      socket.once("error", () => resolve(true));
    });
    if (refused) return;
    await sleep(20);
  }
  throw new Error("the listener still accepted connections");
}

describe("SIGTERM with an HTTP/1.1 keep-alive call in flight", () => {
  it("answers the call, stored, with `connection: close`, and exits 0", async () => {
    const firmId = uniqueFirm("conn-close");
    const server = await spawnServer({ SHUTDOWN_GRACE_MS: "8000" });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const blocker = await openTestConnection();
    try {
      const person = { firmId, trackingId: "T1", email: "c1@example.com", firstName: "F", lastName: "L" };
      const created = await post(agent, server.url, person);
      expect(created.status).toBe(200);
      // Before the drain, a keep-alive client's answer keeps the connection open.
      expect(created.headers.connection).toBe("keep-alive");

      await blocker.beginTransaction();
      await blocker.query("SELECT id FROM contacts WHERE firm_id = ? FOR UPDATE", [firmId]);
      const inFlight = post(agent, server.url, { ...person, city: "Oslo" });
      await untilBlocked(blocker, firmId);

      server.child.kill("SIGTERM");
      await untilRefused(server.url, 10_000);
      await blocker.rollback();

      const answer = await inFlight;
      expect(answer.status).toBe(200);
      expect(answer.headers.connection).toBe("close");
      expect(JSON.parse(answer.body).contact.city).toBe("Oslo");
      const rows = await sql<{ city: string }>("SELECT city FROM contacts WHERE firm_id = ?", [firmId]);
      expect(rows.map((row) => row.city)).toEqual(["Oslo"]);
      expect(await server.stop()).toBe(0);
    } finally {
      agent.destroy();
      await blocker.end();
      await server.stop("SIGKILL");
    }
  });
});

/**
 * Resolves once another connection runs a statement naming the firm: the server's locking read, which cannot
 * finish while `blocker` holds the firm's rows. (MariaDB reports a lock wait met while optimising a unique
 * lookup as state "Statistics", not in INNODB_LOCK_WAITS; the process list shows it either way.)
 */
async function untilBlocked(blocker: Connection, firmId: string): Promise<void> {
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    const [rows] = (await blocker.query(
      "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND INFO LIKE ?",
      [`%${firmId}%`],
    )) as unknown as [{ n: number }[]];
    if (Number(rows[0]?.n) > 0) return;
    await sleep(20);
  }
  throw new Error("the call never reached the locked row");
}

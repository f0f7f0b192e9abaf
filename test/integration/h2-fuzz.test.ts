import { readdirSync } from "node:fs";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UpsertResult } from "../../gen/contacts/v1/contact_service_pb.js";
import { grpcJsClient } from "../support/clients.js";
import { uniqueFirm } from "../support/database.js";
import { h1Sequence, prefaceSequence } from "../support/h1-fuzz-requests.js";
import { h2Sequence } from "../support/h2-fuzz-frames.js";
import { type Random, seededRandom, sequenceSeed } from "../support/seeded-random.js";
import { type ServerProcess, spawnServer } from "../support/server-process.js";

// Seeded sequences of valid and invalid bytes on raw sockets, against a spawned server so that a crash shows as
// an exit. After each batch the server must still answer a health check and an upsert from real clients, and must
// not have logged an uncaught exception. FUZZ_SEED=<seed> replays a run; CHAOS_SECONDS=<n> runs each target n s.
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const CHAOS_MS = Number(process.env.CHAOS_SECONDS ?? 0) * 1_000;
const BATCH = 200;
/** Sockets open at once: enough to overlap connections, few enough for a 2-core machine shared with others. */
const PARALLEL = 32;
/** Short, so that sessions Node has given up on are released (idle timeout, then grace) within the test. */
const IDLE_TIMEOUT_MS = 1_000;
const SHUTDOWN_GRACE_MS = 1_000;

let server: ServerProcess;
let probe: ReturnType<typeof grpcJsClient>;
const firmId = uniqueFirm("fuzz");
beforeAll(async () => {
  console.info(`fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED})`);
  // Connections HTTP/2 has given up on (GOAWAY after a protocol error) are held until the idle timeout and a
  // grace period after it (see server.ts), so short ones let the descriptor check below tell them from a leak.
  server = await spawnServer({
    IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS),
    SHUTDOWN_GRACE_MS: String(SHUTDOWN_GRACE_MS),
  });
  probe = grpcJsClient(server.url);
});
afterAll(async () => {
  probe?.close();
  await server?.stop();
});

const port = () => Number(new URL(server.url).port);

/** Writes `bytes` on a new connection (at once, in random pieces, or a byte at a time), then leaves somehow. */
function play(bytes: Buffer, random: Random): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port(), "127.0.0.1");
    socket.on("error", () => undefined);
    socket.resume(); // read and drop whatever the server answers
    const cap = setTimeout(() => socket.destroy(), 200);
    socket.once("close", () => {
      clearTimeout(cap);
      resolve();
    });
    const leave = () => {
      const how = random.int(0, 3);
      if (how === 0) socket.destroy();
      else if (how === 1) socket.end();
      else setTimeout(() => socket.destroy(), random.int(1, how === 2 ? 20 : 150));
    };
    socket.once("connect", async () => {
      const mode = random.int(0, 3);
      if (mode <= 1 || bytes.length === 0) {
        socket.write(bytes);
      } else {
        const step = mode === 3 && bytes.length <= 300 ? 1 : random.int(1, 64);
        for (let i = 0; i < bytes.length && !socket.destroyed; i += step) {
          socket.write(bytes.subarray(i, i + step));
          await new Promise(setImmediate);
        }
      }
      leave();
    });
  });
}

/** The server is alive, logged no defect, and answers a health check (Connect JSON, HTTP/1.1) and an upsert (gRPC). */
async function assertServing(context: string): Promise<void> {
  expect(server.child.exitCode, `${context}: the server exited`).toBeNull();
  expect(server.defects(), context).toEqual([]);
  const health = await fetch(`${server.url}/grpc.health.v1.Health/Check`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
    signal: AbortSignal.timeout(5_000),
  });
  expect(await health.json(), context).toEqual({ status: "SERVING" });
  const upsert = await probe.upsert(
    { firmId, trackingId: "probe", email: "probe@example.com", firstName: "P", lastName: "Q" },
    { timeoutMs: 5_000 },
  );
  expect([UpsertResult.CREATED, UpsertResult.UPDATED], context).toContain(upsert.result);
}

const openDescriptors = () => readdirSync(`/proc/${server.child.pid}/fd`).length;

/**
 * Plays batches of `generate`'s sequences (at least `minimum`, or for CHAOS_SECONDS), checks the server after each,
 * and at the end that the connections' descriptors were all released.
 */
async function fuzz(name: string, minimum: number, generate: (random: Random, firm: string) => Buffer) {
  await assertServing(`${name}: before`);
  const baseline = openDescriptors();
  const started = Date.now();
  let index = 0;
  while (index < minimum || Date.now() - started < CHAOS_MS) {
    const first = index;
    const queue = Array.from({ length: BATCH }, () => index++);
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
          const random = seededRandom(sequenceSeed(SEED, i));
          await play(generate(random, firmId), random);
        }
      }),
    );
    await assertServing(`${name}: seed ${SEED}, after sequences ${first}..${index - 1}`);
  }
  // Every connection played is closed on the client side: the server must let go of all of them.
  let open = openDescriptors();
  for (
    let waited = 0;
    open > baseline + 2 && waited < IDLE_TIMEOUT_MS + SHUTDOWN_GRACE_MS + 5_000;
    waited += 100
  ) {
    await sleep(100);
    open = openDescriptors();
  }
  console.info(
    `${name}: ${index} sequences in ${Date.now() - started} ms; descriptors ${baseline} -> ${open}`,
  );
  expect(open, `${name}: descriptors still open after the fuzz`).toBeLessThanOrEqual(baseline + 2);
}

describe("no byte sequence ends the process or stops it serving", () => {
  it(
    "HTTP/2 frame sequences (requests, CONTINUATION, DATA, resets, window updates, floods, GOAWAY, garbage)",
    async () => {
      await fuzz("h2", 1_200, h2Sequence);
    },
    120_000 + CHAOS_MS,
  );

  it(
    "HTTP/1.1 request sequences (pipelining, chunked edge cases, bad lengths, cut-off bodies, bogus lines)",
    async () => {
      await fuzz("h1", 600, h1Sequence);
    },
    120_000 + CHAOS_MS,
  );

  it(
    "first bytes of a connection (preface prefixes then something else, near-misses, empty connections)",
    async () => {
      await fuzz("preface", 600, prefaceSequence);
    },
    120_000 + CHAOS_MS,
  );
});

import { randomUUID } from "node:crypto";
import http from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import {
  BatchUpsertContactsRequestSchema,
  BatchUpsertContactsResponseSchema,
  ContactService,
  UpsertContactRequestSchema,
  type UpsertContactResponse,
  UpsertContactResponseSchema,
  UpsertResult,
} from "../gen/contacts/v1/contact_service_pb.js";
import type { FromLoad, LoadResult, LoadSpec, ToLoad } from "./messages.js";
import { createRawPool, rawUpsert } from "./raw-mysql.js";
import { countStatements, statementsBetween } from "./statement-counter.js";
import { type Op, type OpKind, prng, type UpsertRequest, workload } from "./workload.js";

// A load generator: its own process (forked by bench/run.ts), so its CPU is not the server's. Keeps
// `concurrency` calls in flight until told to stop, counting only calls that complete between "measure" and
// "stop".

type Answer = "created" | "updated";
/** What a call answered: the result, and the first name of the contact it returned (RPC targets only). */
interface Reply {
  readonly answer: Answer;
  readonly firstName?: string;
}
interface Caller {
  call(request: UpsertRequest & { readonly requestId?: string }): Promise<Reply>;
  close(): Promise<void>;
}

/** @grpc/grpc-js with one channel (one HTTP/2 connection) carrying every call in flight, protobuf-es codec. */
function grpcCaller(url: string, timeoutMs: number): Caller {
  const client = new grpc.Client(new URL(url).host, grpc.credentials.createInsecure());
  const serialize = (request: UpsertRequest) =>
    Buffer.from(toBinary(UpsertContactRequestSchema, create(UpsertContactRequestSchema, request)));
  const deserialize = (bytes: Buffer) => fromBinary(UpsertContactResponseSchema, bytes);
  return {
    call: (request) =>
      new Promise((resolve, reject) => {
        client.makeUnaryRequest(
          "/contacts.v1.ContactService/UpsertContact",
          serialize,
          deserialize,
          request,
          new grpc.Metadata(),
          { deadline: Date.now() + timeoutMs },
          (error, response) =>
            error || !response ? reject(error ?? new Error("no response")) : resolve(reply(response)),
        );
      }),
    close: async () => client.close(),
  };
}

/** connect-node's Connect protocol with JSON over HTTP/1.1 keep-alive: one socket per call in flight. */
function connectJsonCaller(url: string, concurrency: number, timeoutMs: number): Caller {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const transport = createConnectTransport({
    baseUrl: url,
    httpVersion: "1.1",
    useBinaryFormat: false,
    nodeOptions: { agent },
  });
  const client = createClient(ContactService, transport);
  return {
    call: async (request) => {
      return reply(await client.upsertContact(request, { timeoutMs }));
    },
    close: async () => agent.destroy(),
  };
}

/**
 * BatchUpsertContacts over @grpc/grpc-js (one channel): each call sends `ops` of one firm and resolves with each
 * item's answer, or the code name of its error.
 */
function grpcBatchCaller(url: string, timeoutMs: number) {
  const client = new grpc.Client(new URL(url).host, grpc.credentials.createInsecure(), {
    "grpc.max_receive_message_length": -1,
  });
  type BatchInit = Parameters<typeof create<typeof BatchUpsertContactsRequestSchema>>[1];
  const serialize = (request: BatchInit) =>
    Buffer.from(
      toBinary(BatchUpsertContactsRequestSchema, create(BatchUpsertContactsRequestSchema, request)),
    );
  const deserialize = (bytes: Buffer) => fromBinary(BatchUpsertContactsResponseSchema, bytes);
  return {
    call: (ops: readonly Op[]) =>
      new Promise<(Answer | string)[]>((resolve, reject) => {
        const firmId = ops[0]?.request.firmId ?? "";
        client.makeUnaryRequest(
          "/contacts.v1.ContactService/BatchUpsertContacts",
          serialize,
          deserialize,
          { firmId, requests: ops.map((op) => ({ ...op.request, firmId: "" })) },
          new grpc.Metadata(),
          { deadline: Date.now() + timeoutMs },
          (error, response) =>
            error || !response
              ? reject(error)
              : resolve(
                  response.results.map((r) =>
                    r.outcome.case === "response"
                      ? reply(r.outcome.value).answer
                      : (grpc.status[r.outcome.value?.code ?? 2] ?? "UNKNOWN"),
                  ),
                ),
        );
      }),
    close: async () => client.close(),
  };
}

/** The raw mysql2 transaction, no RPC: the database's limit. */
function rawCaller(databaseUrl: string, poolSize: number): Caller {
  const pool = createRawPool(databaseUrl, poolSize);
  return {
    call: async (request) => ({ answer: await rawUpsert(pool, request) }),
    close: () => pool.end(),
  };
}

function reply(response: UpsertContactResponse): Reply {
  return {
    answer: response.result === UpsertResult.CREATED ? "created" : "updated",
    firstName: response.contact?.firstName,
  };
}

/** What is wrong with a reply to an operation, or undefined when it is right. */
function wrongAnswer(op: Op, reply: Reply, checkAnswers: boolean): string | undefined {
  const expected: Answer = op.kind === "create" ? "created" : "updated";
  if (checkAnswers && reply.answer !== expected) return `wrong answer: ${op.kind} answered ${reply.answer}`;
  if (reply.firstName !== undefined && reply.firstName !== op.request.firstName) {
    return "wrong answer: the returned contact is not the one sent";
  }
  return undefined;
}

function errorName(error: unknown): string {
  if (error instanceof ConnectError) return Code[error.code] ?? String(error.code);
  if (error && typeof error === "object") {
    const { code, name } = error as { code?: unknown; name?: unknown };
    if (typeof code === "number" && "metadata" in error) return grpc.status[code] ?? String(code);
    if (typeof code === "string" || typeof code === "number") return String(code);
    if (typeof name === "string") return name;
  }
  return "unknown";
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return (
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
  );
}

async function main(spec: LoadSpec): Promise<void> {
  const statements = countStatements();
  const batchCaller =
    spec.target === "grpc-batch" ? grpcBatchCaller(spec.url ?? "", spec.callTimeoutMs) : null;
  const caller =
    batchCaller !== null
      ? { call: async (): Promise<Reply> => ({ answer: "created" }), close: batchCaller.close }
      : spec.target === "mysql2"
        ? rawCaller(spec.databaseUrl ?? "", spec.poolSize)
        : spec.target === "grpc"
          ? grpcCaller(spec.url ?? "", spec.callTimeoutMs)
          : connectJsonCaller(spec.url ?? "", spec.concurrency, spec.callTimeoutMs);
  const send = (message: FromLoad) => process.send?.(message);

  let measuring = false;
  let stopping = false;
  let windowStart = 0;
  let windowEnd = 0;
  let cpuStart = process.cpuUsage();
  let statementsStart = statements();
  let latencies = new Float64Array(1 << 16);
  let calls = 0;
  // Every successful call of the process, warm-up and drain included: the database's background work they leave
  // is charged per call over all of them (see measure-row.ts).
  let allCalls = 0;
  const errors: Record<string, number> = {};
  const failures: Record<string, number> = {};
  const fail = (what: string) => {
    failures[what] = (failures[what] ?? 0) + 1;
    if (measuring) errors[what] = (errors[what] ?? 0) + 1;
  };
  const kinds: Record<OpKind, number> = { create: 0, updateByTrackingId: 0, updateByEmail: 0 };
  const answers = { created: 0, updated: 0 };

  const record = (started: number, count: number) => {
    if (calls + count > latencies.length) {
      const grown = new Float64Array(Math.max(latencies.length * 2, calls + count));
      grown.set(latencies);
      latencies = grown;
    }
    // One latency per call; a batch's contacts all count as completed when it answers.
    latencies[calls] = performance.now() - started;
    calls += count;
  };

  const batchWorker = async (index: number) => {
    if (batchCaller === null) return;
    const random = prng(spec.seed + index);
    const streams = new Map<number, () => Op>();
    const size = spec.batchSize ?? 1000;
    while (!stopping) {
      const f = Math.floor(random() * spec.shape.firms);
      const next =
        streams.get(f) ??
        workload(spec.shape, spec.seed * 31 + index * 1009 + f, `${spec.token}w${index}f${f}`, f);
      streams.set(f, next);
      const ops = Array.from({ length: size }, next);
      const started = performance.now();
      try {
        const results = await batchCaller.call(ops);
        // Every item is checked like a single call's answer; a failed or wrong item fails the bench.
        const right = results.filter((r, i) => {
          if (r !== "created" && r !== "updated") {
            fail(r);
            return false;
          }
          const wrong = wrongAnswer(ops[i] as Op, { answer: r }, spec.checkAnswers);
          if (wrong !== undefined) fail(wrong);
          return wrong === undefined;
        });
        allCalls += right.length;
        if (!measuring) continue;
        record(started, right.length);
        results.forEach((r, i) => {
          if (r === "created" || r === "updated") {
            answers[r]++;
            kinds[(ops[i] as Op).kind]++;
          }
        });
      } catch (error) {
        fail(errorName(error));
        await sleep(1);
      }
    }
  };

  // BENCH_REQUEST_ID=1: every single call sends a unique request id (what request ids cost); the raw mysql2
  // reference ignores it.
  const requestIds = process.env.BENCH_REQUEST_ID === "1";
  const worker = async (index: number) => {
    if (batchCaller !== null) return batchWorker(index);
    const next = workload(spec.shape, spec.seed + index, `${spec.token}w${index}`);
    while (!stopping) {
      const op = next();
      const started = performance.now();
      try {
        const result = await caller.call(
          requestIds ? { ...op.request, requestId: randomUUID() } : op.request,
        );
        const wrong = wrongAnswer(op, result, spec.checkAnswers);
        if (wrong !== undefined) {
          fail(wrong);
          continue;
        }
        allCalls++;
        if (!measuring) continue;
        if (calls === latencies.length) {
          const grown = new Float64Array(latencies.length * 2);
          grown.set(latencies);
          latencies = grown;
        }
        latencies[calls++] = performance.now() - started;
        kinds[op.kind]++;
        answers[result.answer]++;
      } catch (error) {
        fail(errorName(error));
        await sleep(1); // never spin on a failing target
      }
    }
  };

  const lifetime = setTimeout(() => {
    stopping = true;
  }, spec.maxSeconds * 1000);
  process.on("disconnect", () => {
    stopping = true;
    measuring = false;
  });
  const done = new Promise<void>((resolve) => {
    process.on("message", (message: ToLoad) => {
      if (message.type === "measure") {
        cpuStart = process.cpuUsage();
        statementsStart = statements();
        windowStart = performance.now();
        measuring = true;
      } else if (message.type === "stop") {
        windowEnd = performance.now();
        measuring = false;
        stopping = true;
        resolve();
      }
    });
  });

  const workers = Array.from({ length: spec.concurrency }, (_, i) => worker(i));
  await sleep(spec.warmupSeconds * 1000);
  send({ type: "warm" });
  await Promise.race([done, Promise.all(workers)]);
  const cpu = process.cpuUsage(cpuStart);
  const statementsInWindow = statementsBetween(statementsStart, statements());
  await Promise.all(workers);
  clearTimeout(lifetime);

  // A batch records one latency per call at the index of its first contact; the rest of its slots stay 0.
  const sorted = (
    batchCaller === null ? latencies.slice(0, calls) : latencies.slice(0, calls).filter((x) => x > 0)
  ).sort();
  const result: LoadResult = {
    calls,
    allCalls,
    errors,
    failures,
    windowMs: windowEnd - windowStart,
    latencyMs: {
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1] ?? Number.NaN,
    },
    kinds,
    answers,
    cpuMs: (cpu.user + cpu.system) / 1000,
    statements: statementsInWindow,
  };
  send({ type: "result", result });
  await caller.close();
  process.disconnect?.();
}

main(JSON.parse(process.argv[2] ?? "{}") as LoadSpec).catch((error: unknown) => {
  process.stderr.write(`load generator failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});

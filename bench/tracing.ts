import { type ChildProcess, fork } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { create, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { ContactService, UpsertContactRequestSchema } from "../gen/contacts/v1/contact_service_pb.js";
import type { FromServer } from "./messages.js";

// `npm run bench:tracing`: the server CPU time one UpsertContact costs with tracing off and with it on and every
// call sampled (OTEL_TRACES_SAMPLER=always_on, exported over OTLP/HTTP to a sink in this process). Each mode is
// its own bench-server process running startApp as `npm start` does; rounds of calls alternate between them, so
// that a loaded machine slows both alike, and each mode's figure is the median of its rounds. A third mode, the
// server of another build (TRACING_BENCH_BASELINE=path/to/dist/bench-build/bench/bench-server.js, built from
// the commit before tracing), measures "today's" cost beside them.

const here = path.dirname(fileURLToPath(import.meta.url));
// Many short rounds rather than a few long ones: neighbouring rounds share the machine's load, so each round's
// ratio to the "tracing off" round beside it is steadier than either figure alone.
const ROUNDS = Number(process.env.TRACING_BENCH_ROUNDS ?? 20);
const CALLS = Number(process.env.TRACING_BENCH_CALLS ?? 600);
const CONCURRENCY = Number(process.env.TRACING_BENCH_CONCURRENCY ?? 8);
const DATABASE_URL =
  process.env.TRACING_BENCH_DATABASE_URL ?? "mysql://root@127.0.0.1:3306/contacts_tracing_bench";
const TICKS_PER_SECOND = 100; // Linux's USER_HZ, the unit of utime and stime in /proc/<pid>/stat

interface Mode {
  readonly name: string;
  readonly server: string;
  readonly env: Record<string, string>;
}

/** The CPU time (user + system) a process has used, in microseconds. */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The fields after the command name (which may hold spaces) start after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return (ticks / TICKS_PER_SECOND) * 1e6;
}

async function startServer(mode: Mode): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(mode.server, ["service"], {
    env: {
      ...process.env,
      HOST: "127.0.0.1",
      DATABASE_URL,
      LOG_LEVEL: "info",
      SHUTDOWN_GRACE_MS: "2000",
      ...mode.env,
    },
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.on("message", (message: FromServer) => {
      if (message.type === "listening") resolve(message.url);
    });
    child.once("exit", (code) => reject(new Error(`${mode.name} server exited (${code}) before listening`)));
  });
  return { child, url };
}

/** Sends `calls` upserts, `concurrency` at a time, half creating a contact and half updating one. */
async function load(client: grpc.Client, calls: number, concurrency: number, round: string): Promise<void> {
  let next = 0;
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const key = i % 2 === 0 ? i : i - 1; // odd calls update what the call before them created
      const request = create(UpsertContactRequestSchema, {
        firmId: `bench-${i % 5}`,
        trackingId: `${round}-${key}`,
        email: `c${key}.${round}@example.com`,
        firstName: "Bench",
        lastName: `Contact ${i}`,
        phone: "+44 20 7946 0000",
        company: "Example Ltd",
        title: i % 2 === 0 ? "Engineer" : "Manager",
        note: "A note of some length, as a CRM holds one.",
      });
      client.makeUnaryRequest(
        `/${ContactService.typeName}/UpsertContact`,
        (message: Uint8Array) => Buffer.from(message),
        (bytes: Buffer) => bytes,
        toBinary(UpsertContactRequestSchema, request),
        (error) => (error ? reject(error) : resolve()),
      );
    });
  const worker = async () => {
    for (let i = next++; i < calls; i = next++) await one(i);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

async function main(): Promise<void> {
  let exportedBytes = 0;
  const sink = http.createServer((request, response) => {
    request.on("data", (chunk: Buffer) => {
      exportedBytes += chunk.length;
    });
    request.on("end", () => response.writeHead(200, { "content-type": "application/x-protobuf" }).end());
  });
  await new Promise<void>((resolve) => sink.listen(0, "127.0.0.1", resolve));
  const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
  const ours = path.join(here, "bench-server.js");
  const modes: Mode[] = [
    ...(process.env.TRACING_BENCH_BASELINE
      ? [{ name: "before tracing", server: process.env.TRACING_BENCH_BASELINE, env: {} }]
      : []),
    { name: "tracing off", server: ours, env: {} },
    {
      name: "tracing on, every call sampled",
      server: ours,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl, OTEL_TRACES_SAMPLER: "always_on" },
    },
  ];
  const servers = [];
  for (const mode of modes) servers.push({ mode, ...(await startServer(mode)) });
  const perCall = new Map<string, number[]>(modes.map((m) => [m.name, []]));
  try {
    for (let round = 0; round <= ROUNDS; round++) {
      for (const [index, server] of servers.entries()) {
        const client = new grpc.Client(new URL(server.url).host, grpc.credentials.createInsecure());
        const pid = server.child.pid as number;
        const before = cpuMicros(pid);
        await load(client, CALLS, CONCURRENCY, `r${Date.now()}-${round}-${index}`);
        const used = cpuMicros(pid) - before;
        client.close();
        // Round 0 warms each server up (JIT, pool) and is not counted.
        if (round > 0) perCall.get(server.mode.name)?.push(used / CALLS);
      }
    }
  } finally {
    for (const server of servers) server.child.kill("SIGTERM");
    sink.close();
  }
  const off = median(perCall.get("tracing off") ?? []);
  console.log(`UpsertContact over gRPC, ${CALLS} calls x ${ROUNDS} rounds, ${CONCURRENCY} in flight`);
  console.log(
    "| mode | server CPU per call (median µs) | vs tracing off (medians) | vs tracing off (median of each round's ratio) | rounds (µs) |",
  );
  console.log("|---|---|---|---|---|");
  const offRounds = perCall.get("tracing off") ?? [];
  const percent = (ratio: number) => `${ratio >= 1 ? "+" : ""}${((ratio - 1) * 100).toFixed(1)}%`;
  for (const mode of modes) {
    const values = perCall.get(mode.name) ?? [];
    const m = median(values);
    const paired = median(values.map((v, i) => v / (offRounds[i] ?? Number.NaN)));
    console.log(
      `| ${mode.name} | ${m.toFixed(0)} | ${percent(m / off)} | ${percent(paired)} | ${values.map((v) => v.toFixed(0)).join(", ")} |`,
    );
  }
  console.log(
    `OTLP bytes exported: ${exportedBytes} (${(exportedBytes / (CALLS * (ROUNDS + 1))).toFixed(0)} per call)`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

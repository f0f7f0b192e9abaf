// Measures what the firm clock costs: concurrent UpsertContact calls on ONE firm (every call writes, so every
// call takes a tick of the same clock) against a built tree, in calls per second. Run it against this tree and
// against a build of the previous commit, in the same session, and compare:
//   node scripts/clock-cost.mjs <repo root with dist/> <database url> [seconds] [concurrency]
import path from "node:path";
import { pathToFileURL } from "node:url";

const [
  root = ".",
  url = "mysql://root@127.0.0.1:3306/contacts_clock_cost",
  seconds = "10",
  concurrency = "16",
] = process.argv.slice(2);
const load = (file) => import(pathToFileURL(path.resolve(root, file)).href);
const { startApp } = await load("dist/src/app.js");
const { loadConfig } = await load("dist/src/config.js");
const { createLogger } = await load("dist/src/logger.js");
const { ContactService } = await load("dist/gen/contacts/v1/contact_service_pb.js");
const { createClient } = await import(
  pathToFileURL(path.resolve(root, "node_modules/@connectrpc/connect/dist/esm/index.js")).href
);
const { createGrpcTransport } = await import(
  pathToFileURL(path.resolve(root, "node_modules/@connectrpc/connect-node/dist/esm/index.js")).href
);

const config = loadConfig({ PORT: "0", DATABASE_URL: url, LOG_LEVEL: "silent", DB_POOL_SIZE: "16" });
const app = await startApp(config, createLogger("silent"));
const client = createClient(ContactService, createGrpcTransport({ baseUrl: app.server.url }));
const firmId = `clock-${Date.now()}`;
const keys = 2000;
let calls = 0;
let errors = 0;
const call = (i) =>
  client.upsertContact({
    firmId,
    trackingId: `k-${i % keys}`,
    email: `k-${i % keys}@example.com`,
    firstName: "F",
    lastName: "L",
    city: `c-${i}`,
  });
// Warm up: create every key once, so the measured calls are mostly updates that change a field.
for (let i = 0; i < keys; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => call(i + j)));
const until = Date.now() + Number(seconds) * 1000;
let next = 0;
const worker = async () => {
  while (Date.now() < until) {
    try {
      await call(next++ * 7919);
      calls++;
    } catch {
      errors++;
    }
  }
};
const started = performance.now();
await Promise.all(Array.from({ length: Number(concurrency) }, worker));
const elapsed = (performance.now() - started) / 1000;
console.log(
  JSON.stringify({
    root,
    calls,
    errors,
    seconds: Math.round(elapsed * 10) / 10,
    callsPerSecond: Math.round(calls / elapsed),
  }),
);
await app.close();

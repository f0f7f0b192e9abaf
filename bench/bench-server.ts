import { connectionCap, startApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { createMetrics } from "../src/metrics.js";
import { startServer } from "../src/server.js";
import { echoUseCases } from "./echo-use-case.js";
import type { FromServer, ToServer } from "./messages.js";
import { countStatements } from "./statement-counter.js";

// A server for the bench, forked by bench/run.ts with an IPC channel: "service" runs exactly what `npm start`
// runs (startApp: migrated database, real use case); "echo" runs the same startServer with the echo use case
// and no database. Configured by the service's own environment variables; reports its URL and the
// statements it sent to the database over IPC, and exits when told to (SIGTERM) or when the orchestrator goes away.

async function main(mode: string): Promise<void> {
  // Subscribed before the pool exists; answers the orchestrator's "statements" requests with running totals.
  const statements = countStatements();
  const config = loadConfig({ ...process.env, PORT: "0" });
  const logger = createLogger(config.logLevel);
  let url: string;
  let close: () => Promise<void>;
  if (mode === "service") {
    const app = await startApp(config, logger);
    url = app.server.url;
    close = () => app.close();
  } else if (mode === "echo") {
    // Wired like startApp wires the service (src/app.ts), less the database: no authentication unless
    // configured (the bench configures none), real metrics, and always ready.
    const options = {
      ...config,
      maxConnections: connectionCap(config, logger),
      useCases: echoUseCases(),
      readinessProbe: async () => undefined,
      authenticate: undefined,
      metrics: createMetrics(() => ({ size: 0, inUse: 0, waiting: 0 })),
      logger,
    };
    const server = await startServer(options);
    url = server.url;
    close = () => server.close();
  } else {
    throw new Error(`unknown mode ${JSON.stringify(mode)}: use service or echo`);
  }
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(1), 10_000);
    close().then(
      () => {
        clearTimeout(force);
        process.exit(0);
      },
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.on("disconnect", stop);
  const send = (message: FromServer) => process.send?.(message);
  process.on("message", (message: ToServer) => {
    if (message.type === "statements") send({ type: "statements", counts: statements() });
  });
  send({ type: "listening", url });
}

main(process.argv[2] ?? "").catch((error: unknown) => {
  process.stderr.write(`bench server failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});

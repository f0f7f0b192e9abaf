import { startApp } from "./app.js";
import { ConfigError, loadConfig } from "./config.js";
import { createLogger, flushLogs, type Logger, stdoutDestination } from "./logger.js";

// The only impure entry point: reads the environment, owns the process and its signals.
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`contacts: ${error.message}\n`);
    process.exit(2);
  }
  const destination = stdoutDestination();
  const logger = createLogger(config.logLevel, destination);
  // Every exit from here on: the asynchronous destination's last lines are written first.
  const exit = (code: number) => flushLogs(destination, () => process.exit(code));
  exitOnDefect(logger, exit);
  let app: Awaited<ReturnType<typeof startApp>>;
  try {
    app = await startApp(config, logger);
  } catch (error) {
    // One readable line naming the cause; the stack, for a bug rather than a setting, only at LOG_LEVEL=debug.
    logger.debug({ err: error }, "start-up failure");
    process.stderr.write(`contacts: cannot start: ${oneLine(error)}\n`);
    exit(1);
    return;
  }
  logger.info(
    {
      url: app.server.url,
      protocols: ["grpc", "grpc-web", "connect+json", "connect+proto"],
      transports: ["HTTP/1.1", "h2c"],
      database: app.databaseVersion,
      emailCollation: app.emailCollation,
      databaseCluster: app.databaseCluster,
      authentication: app.authentication,
    },
    "listening",
  );
  if (app.authentication === "off") {
    logger.warn(
      { host: config.host, authDisabled: config.authDisabled },
      "authentication is off: any caller that reaches this address can read and write every firm (set API_KEYS_FILE)",
    );
  }
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    app.close().then(
      () => {
        logger.info({ signal }, "stopped");
        exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        exit(1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

/**
 * An uncaught exception or unhandled rejection is a bug, and Node's state after one is undefined: log it as one
 * `fatal` JSON line and exit non-zero once the buffered lines, this one last, are written. Until then the process
 * still runs; a second defect meanwhile changes nothing.
 */
function exitOnDefect(logger: Logger, exit: (code: number) => void): void {
  let exiting = false;
  const fatal = (origin: string) => (error: unknown) => {
    if (exiting) return;
    exiting = true;
    logger.fatal({ err: error, origin }, `${origin}: exiting`);
    exit(70); // EX_SOFTWARE: an internal error, told apart from a bad setting (2) or a failed start (1)
  };
  process.on("uncaughtException", fatal("uncaughtException"));
  process.on("unhandledRejection", fatal("unhandledRejection"));
}

/** An error and its causes as one line, each message once: a wrapper's message usually repeats its cause's. */
function oneLine(error: unknown): string {
  const messages: string[] = [];
  for (
    let e = error, depth = 0;
    e !== undefined && depth < 5;
    e = e instanceof Error ? e.cause : undefined, depth++
  ) {
    const message = e instanceof Error ? e.message : String(e);
    if (!messages.some((seen) => seen.includes(message))) messages.push(message);
  }
  return messages.join(": ").replace(/\s+/g, " ");
}

void main();

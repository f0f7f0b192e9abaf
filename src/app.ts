import { createAuthenticator } from "./auth/api-keys.js";
import type { Config } from "./config.js";
import { changeAssignments } from "./contacts/assign-contact.js";
import { batchUpsertContacts } from "./contacts/batch-upsert.js";
import { deleteContact } from "./contacts/delete-contact.js";
import { getContact } from "./contacts/get-contact.js";
import { listContactChanges } from "./contacts/list-contact-changes.js";
import { listContacts } from "./contacts/list-contacts.js";
import { createReadBudget } from "./contacts/read-budget.js";
import { updateContact } from "./contacts/update-contact.js";
import { upsertContact } from "./contacts/upsert-contact.js";
import { openDatabase } from "./db/database.js";
import { feedStore } from "./db/feed-statements.js";
import { readPageTokenKey } from "./db/page-token-secret.js";
import { startRequestOutcomePurge } from "./db/request-outcomes.js";
import { DEFAULT_PURGE, startTombstonePurge } from "./db/tombstone-purge.js";
import { createTransact, type RetryListener, type RetryPolicy } from "./db/transaction.js";
import { DEFAULT_FEED_READ, startChangeFeed } from "./feed/change-feed.js";
import { notifyingWrites } from "./feed/notify-writes.js";
import { watchContactChanges } from "./feed/watch-contact-changes.js";
import { defaultMaxConnections, LOW_DESCRIPTOR_LIMIT, readDescriptorLimit } from "./http/descriptor-limit.js";
import { type Logger, withTraceIds } from "./logger.js";
import { createMetrics } from "./metrics.js";
import { coalesceUpserts } from "./rpc/coalesce-upserts.js";
import { limitFirms } from "./rpc/firm-limit.js";
import { admitPages } from "./rpc/read-admission.js";
import { type RunningServer, startServer } from "./server.js";
import { admissionTracing } from "./tracing/admission-spans.js";
import { tracedBatches } from "./tracing/background-spans.js";
import { startTracing, type Tracing } from "./tracing/tracing.js";

/** A running service: its server and database, closed together. */
export interface App {
  readonly server: RunningServer;
  readonly databaseVersion: string;
  readonly emailCollation: string;
  /** A Galera cluster's size at startup and how transactions are sent to it, or "single server". */
  readonly databaseCluster: string;
  /** How callers are authenticated: the number of API keys loaded, or off. */
  readonly authentication: string;
  /** Stops the server (draining calls in flight), then closes the database pool. */
  close(): Promise<void>;
}

/**
 * MAX_CONNECTIONS, or half the process's file-descriptor limit when it is not set; warns when the limit is low
 * (or the cap leaves too little of it), since past the limit every new client, probes included, is reset.
 */
export function connectionCap(config: Config, logger: Logger): number {
  const limit = readDescriptorLimit();
  const cap = config.maxConnections ?? defaultMaxConnections(limit);
  if (limit === undefined) {
    logger.warn(
      { maxConnections: cap },
      "cannot read the file-descriptor limit; set MAX_CONNECTIONS below it",
    );
  } else if (cap > defaultMaxConnections(limit)) {
    logger.warn(
      { descriptorLimit: limit, maxConnections: cap },
      "MAX_CONNECTIONS is more than half the file-descriptor limit: a flood of connections can exhaust it",
    );
  } else if (limit < LOW_DESCRIPTOR_LIMIT) {
    logger.warn(
      { descriptorLimit: limit, maxConnections: cap },
      `the file-descriptor limit is low: raise it (ulimit -n, systemd LimitNOFILE) to ${LOW_DESCRIPTOR_LIMIT} or more`,
    );
  }
  return cap;
}

/** What tests may observe or tune beyond the config. */
export interface AppHooks {
  /** Called before each transaction retry. */
  readonly onRetry?: RetryListener;
  /** Replaces the default transaction retry policy (a test provoking ABORTED uses a small one). */
  readonly retryPolicy?: RetryPolicy;
  /** Tracing to use instead of the one config.otel would start (a benchmark's); closed with the app. */
  readonly tracing?: Tracing;
}

/**
 * Wires the service from a config: database (migrated), use cases, server. Shared by the entry point and the
 * tests, so tests run exactly what production runs.
 */
export async function startApp(config: Config, rootLogger: Logger, hooks: AppHooks = {}): Promise<App> {
  const tracing = hooks.tracing ?? (config.otel && startTracing(config.otel));
  const logger = tracing ? withTraceIds(rootLogger, tracing.active) : rootLogger;
  try {
    return await startTracedApp(config, logger, hooks, tracing);
  } catch (error) {
    await tracing?.shutdown();
    throw error;
  }
}

async function startTracedApp(
  config: Config,
  logger: Logger,
  hooks: AppHooks,
  tracing: Tracing | undefined,
): Promise<App> {
  // Read and checked by loadConfig, so a bad keys file stops the process before anything is touched.
  const keys = config.apiKeys;
  const authenticate = keys && createAuthenticator(keys);
  const database = await openDatabase({
    url: config.databaseUrl,
    poolSize: config.dbPoolSize,
    connectTimeoutMs: config.dbConnectTimeoutMs,
    // Calls wait for a slot in limitFirms below; the pool's own queue only backs that up (probes, stragglers).
    queueLimit: config.dbQueueLimit,
    pipeline: config.dbPipeline,
  });
  try {
    const metrics = createMetrics(database.poolStats);
    const transact = createTransact(database.dataSource, {
      policy: hooks.retryPolicy,
      queueTimeoutMs: config.dbQueueTimeoutMs,
      tracing,
      onePacket: database.onePacket,
      onRetry: (failure, attempt) => {
        logger.debug({ failure, attempt }, "transaction retry");
        metrics.observeRetry(failure);
        hooks.onRetry?.(failure, attempt);
      },
    });
    const pageTokenKey = await readPageTokenKey(database.dataSource);
    const paging = {
      transact,
      pageTokenKey,
      responseMaxBytes: config.responseMaxBytes,
    };
    // Overload is bounded before the database: fair slots per firm, a per-firm cap, a bounded and timed queue.
    const batch = batchUpsertContacts({ transact, requestIdTtlHours: config.requestIdTtlHours });
    // With tracing, a call's wait for admission is a span, and coalesced groups link to their calls.
    const traced = tracing && admissionTracing(tracing);
    const limited = limitFirms(
      (traced?.admitted ?? same)({
        upsertContact: upsertContact({ transact, requestIdTtlHours: config.requestIdTtlHours }),
        batchUpsertContacts: batch,
        getContact: getContact({ transact }),
        listContacts: listContacts(paging),
        updateContact: updateContact({ transact }),
        deleteContact: deleteContact({ transact }),
        assignContact: changeAssignments({ transact }, "assign"),
        unassignContact: changeAssignments({ transact }, "unassign"),
        listContactChanges: listContactChanges(paging),
      }),
      {
        slots: config.dbPoolSize,
        perFirm: config.firmMaxInFlight,
        queueLimit: config.dbQueueLimit,
        queueTimeoutMs: config.dbQueueTimeoutMs,
      },
      // Single upserts that would wait for a connection share a transaction instead (group commit).
      coalesceUpserts(batch, config.coalesceMaxUpserts, metrics.observeCoalesced, traced?.group),
    );
    // Pages wait for their memory before they take a database slot (read-admission.ts).
    const useCases = admitPages(
      (traced?.queued ?? same)(limited),
      createReadBudget(config.readsMaxBytes),
      config.responseMaxBytes,
    );
    const feed = startChangeFeed(
      feedStore(database.dataSource),
      {
        ...DEFAULT_FEED_READ,
        pollMs: config.feedPollMs,
        heartbeatMs: config.feedHeartbeatMs,
        maxBacklog: config.feedMaxBacklog,
      },
      logger,
    );
    const watchChanges = watchContactChanges({
      feed,
      pageTokenKey,
      limits: {
        maxStreams: config.feedMaxStreams,
        maxStreamsPerFirm: config.feedMaxFirmStreams,
        retentionDays: config.tombstoneRetentionDays,
      },
    });
    const server = await startServer({
      ...config,
      maxConnections: connectionCap(config, logger),
      // A write committed here wakes the feed's poller at once, for watchers on this instance.
      useCases: notifyingWrites(useCases, feed.notify),
      watchChanges,
      readinessProbe: database.ping,
      authenticate,
      metrics,
      logger,
      tracing,
    });
    const purge = startTombstonePurge(
      database.dataSource,
      { ...DEFAULT_PURGE, retentionDays: config.tombstoneRetentionDays },
      logger,
      tracedBatches(tracing, "purge tombstones"),
    );
    const requestOutcomePurge = startRequestOutcomePurge(
      database.dataSource,
      DEFAULT_PURGE,
      logger,
      tracedBatches(tracing, "purge request ids"),
    );
    return {
      server,
      databaseVersion: database.serverVersion,
      emailCollation: database.emailCollation,
      databaseCluster: database.cluster.galera
        ? `galera (${database.cluster.size} nodes), ${database.onePacket ? "pipelined" : "one statement a trip"}`
        : "single server",
      authentication: keys ? `API keys (${keys.length})` : "off",
      async close() {
        await server.close();
        await feed.close();
        await purge.stop();
        await requestOutcomePurge.stop();
        await database.close();
        await tracing?.shutdown(); // exports the spans still buffered
      },
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}

const same = <T>(value: T): T => value;

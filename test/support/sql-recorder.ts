import diagnostics from "node:diagnostics_channel";

/** The SQL texts this process sent to one database, in order, as mysql2 sent them (values inlined). */
export interface SqlRecorder {
  readonly texts: string[];
  stop(): void;
}

interface QueryContext {
  readonly query?: string;
  readonly database?: string;
}

/**
 * Records every query text mysql2 sends to `database` from this process, through mysql2's own tracing channel
 * (`mysql2:query`, Node's diagnostics_channel): nothing of the service is wrapped or changed. Texts sent to
 * another database (the shared test database, another test's) are left out, so a test with a database of its
 * own sees exactly what its service sent. mysql2 fills the `?` in on the client, so a text holds its values.
 */
export function recordSql(database: string): SqlRecorder {
  const texts: string[] = [];
  const channel = diagnostics.tracingChannel("mysql2:query");
  const handlers = {
    start(message: unknown) {
      const context = message as QueryContext;
      if (context.database === database && typeof context.query === "string") texts.push(context.query);
    },
    end() {},
    asyncStart() {},
    asyncEnd() {},
    error() {},
  };
  channel.subscribe(handlers);
  return {
    texts,
    stop: () => channel.unsubscribe(handlers),
  };
}

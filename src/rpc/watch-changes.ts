import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type {
  WatchContactChangesRequest,
  WatchContactChangesResponseSchema,
} from "../../gen/contacts/v1/contact_service_pb.js";
import { FeedClosedError } from "../feed/feed-errors.js";
import type { RawWatchRequest, WatchMessage } from "../feed/watch-contact-changes.js";
import { contactChangeToProto } from "./convert.js";
import { connectionKey } from "./health.js";

/** The WatchContactChanges use case as the handler calls it. */
export type WatchUseCase = (raw: RawWatchRequest, signal: AbortSignal) => AsyncIterable<WatchMessage>;

/**
 * The WatchContactChanges handler: decode, stream the use case's messages, encode. Not under the call-time cap
 * of the unary calls (capCallTime): a watch lasts until the client cancels, its connection closes or goes away,
 * or the server shuts down (`shutdown`, at the start of the drain); in the last two cases with UNAVAILABLE
 * (FeedClosedError), so the client resumes, on another instance if need be.
 */
export function watchChangesHandler(watch: WatchUseCase, shutdown: AbortSignal) {
  return async function* watchContactChanges(
    request: WatchContactChangesRequest,
    context: HandlerContext,
  ): AsyncGenerator<MessageInitShape<typeof WatchContactChangesResponseSchema>> {
    const connection = context.values.get(connectionKey);
    const stop = new AbortController();
    const going = [shutdown, ...(connection ? [connection.signal] : [])];
    const signals = [context.signal, ...going];
    const onStop = () => stop.abort();
    for (const signal of signals) signal.addEventListener("abort", onStop, { once: true });
    if (signals.some((signal) => signal.aborted)) onStop();
    const start = request.startTime;
    const raw: RawWatchRequest = {
      firmId: request.firmId,
      startTimeMs:
        start === undefined ? undefined : Number(start.seconds) * 1_000 + Math.floor(start.nanos / 1e6),
      resumeToken: request.resumeToken,
    };
    try {
      for await (const message of watch(raw, stop.signal)) {
        yield { changes: message.changes.map(contactChangeToProto), resumeToken: message.resumeToken };
      }
      // The client did not stop: the server or the connection is going away, and the client should resume.
      if (!context.signal.aborted && going.some((signal) => signal.aborted)) throw new FeedClosedError();
    } finally {
      for (const signal of signals) signal.removeEventListener("abort", onStop);
    }
  };
}

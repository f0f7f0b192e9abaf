import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type CallOptions, type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { ContactService } from "../../gen/contacts/v1/contact_service_pb.js";
import { RetryInfoSchema } from "../../gen-deps/google/rpc/error_details_pb.js";

/** How long one call may take before the page says so. */
export const CALL_TIMEOUT_MS = 10_000;
/** Quiet retries of an overloaded call (RESOURCE_EXHAUSTED with RetryInfo) before the user is told. */
export const OVERLOAD_RETRIES = 3;
/** The longest wait between quiet retries, whatever the server suggests. */
const MAX_RETRY_DELAY_MS = 4_000;

export type Service = Client<typeof ContactService>;

/** The page's way to the service: the client, and a call wrapper adding the key, a deadline and quiet retries. */
export interface Api {
  readonly client: Service;
  /** Runs `call` with the key and deadline; an overload with RetryInfo is retried quietly, then thrown. */
  run<T>(call: (client: Service, options: CallOptions) => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Options for a stream (no deadline): the key and the signal. */
  streamOptions(signal: AbortSignal): CallOptions;
}

export function createApi(baseUrl: string, key: () => string): Api {
  // gRPC-Web (binary) over fetch: server streams (WatchContactChanges) work over HTTP/1.1, and every answer,
  // errors included, is HTTP 200 with the status in grpc-status, so an expected refusal (a conflict, a refused
  // key) writes no "Failed to load resource" error to the browser's console, as Connect's 409 or 401 would.
  const client = createClient(ContactService, createGrpcWebTransport({ baseUrl }));
  const headers = (): Record<string, string> => {
    const value = key().trim();
    return value ? { Authorization: `Bearer ${value}` } : {};
  };
  return {
    client,
    async run(call, signal) {
      for (let attempt = 0; ; attempt++) {
        try {
          return await call(client, { headers: headers(), timeoutMs: CALL_TIMEOUT_MS, signal });
        } catch (error) {
          const failure = ConnectError.from(error);
          const delay = retryDelayMs(failure);
          if (delay === undefined || attempt >= OVERLOAD_RETRIES || signal?.aborted) throw failure;
          await new Promise((resolve) => setTimeout(resolve, Math.min(delay, MAX_RETRY_DELAY_MS)));
        }
      }
    },
    streamOptions: (signal) => ({ headers: headers(), signal }),
  };
}

/** The delay an overload suggests (google.rpc.RetryInfo), or undefined when it is not one to retry. */
function retryDelayMs(error: ConnectError): number | undefined {
  if (error.code !== Code.ResourceExhausted) return undefined;
  const [info] = error.findDetails(RetryInfoSchema);
  if (!info?.retryDelay) return undefined;
  return Number(info.retryDelay.seconds) * 1000 + Math.floor(info.retryDelay.nanos / 1e6);
}

/** A timestamp as a Date, or undefined. */
export const dateOf = (time: Parameters<typeof timestampDate>[0] | undefined) =>
  time ? timestampDate(time) : undefined;

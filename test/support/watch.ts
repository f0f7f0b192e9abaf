import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { createClient, type Transport } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import {
  type ContactChange,
  ContactService,
  type WatchContactChangesRequestSchema,
  type WatchContactChangesResponse,
} from "../../gen/contacts/v1/contact_service_pb.js";
import { type CallFailure, failure } from "./clients.js";

export type WatchInit = MessageInitShape<typeof WatchContactChangesRequestSchema>;

/** An open WatchContactChanges stream as a test sees it: what arrived so far, and how it ended. */
export interface TestWatch {
  readonly messages: WatchContactChangesResponse[];
  /** Every change received, in order. */
  changes(): ContactChange[];
  /** The resume token of the last message received ("" before any). */
  lastToken(): string;
  /** Resolves once `done` holds over the messages, rejects after timeoutMs. */
  until(
    done: (messages: readonly WatchContactChangesResponse[]) => boolean,
    timeoutMs?: number,
  ): Promise<void>;
  /** Settles when the stream ends: undefined when it ended cleanly or was cancelled here, else its failure. */
  readonly ended: Promise<CallFailure | undefined>;
  /** Receipt time (performance.now()) of each message. */
  readonly receivedAt: number[];
  cancel(): void;
}

function recorder() {
  const messages: WatchContactChangesResponse[] = [];
  const receivedAt: number[] = [];
  const waiters = new Set<() => void>();
  return {
    messages,
    receivedAt,
    push(message: WatchContactChangesResponse) {
      messages.push(message);
      receivedAt.push(performance.now());
      for (const waiter of waiters) waiter();
    },
    until(done: (m: readonly WatchContactChangesResponse[]) => boolean, timeoutMs = 10_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!done(messages)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`watch condition not met in ${timeoutMs} ms (${messages.length} messages)`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

function face(r: ReturnType<typeof recorder>, ended: Promise<CallFailure | undefined>, cancel: () => void) {
  return {
    messages: r.messages,
    receivedAt: r.receivedAt,
    changes: () => r.messages.flatMap((m) => m.changes),
    lastToken: () => r.messages[r.messages.length - 1]?.resumeToken ?? "",
    until: r.until,
    ended,
    cancel,
  };
}

/** A watch over one of connect-node's transports. */
export function connectWatch(
  transport: Transport,
  request: WatchInit,
  headers?: Record<string, string>,
): TestWatch {
  const client = createClient(ContactService, transport);
  const abort = new AbortController();
  const r = recorder();
  const ended = (async () => {
    try {
      for await (const message of client.watchContactChanges(request, { signal: abort.signal, headers }))
        r.push(message);
      return undefined;
    } catch (error) {
      if (abort.signal.aborted) return undefined;
      return failure(Promise.reject(error));
    }
  })();
  return face(r, ended, () => abort.abort());
}

/** A watch over @grpc/grpc-js; `pause` leaves the stream unread (a reader that stopped) until resumed. */
export function grpcJsWatch(
  raw: grpc.Client,
  request: WatchInit,
  headers?: Record<string, string>,
): TestWatch & { pause(): void; resume(): void } {
  const method = ContactService.method.watchContactChanges;
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(headers ?? {})) metadata.set(key, value);
  const call = raw.makeServerStreamRequest(
    `/${ContactService.typeName}/${method.name}`,
    (message: WatchInit) => Buffer.from(toBinary(method.input, create(method.input, message))),
    (bytes: Buffer) => fromBinary(method.output, bytes),
    request,
    metadata,
    {},
  );
  const r = recorder();
  let cancelled = false;
  call.on("data", (message: WatchContactChangesResponse) => r.push(message));
  const ended = new Promise<CallFailure | undefined>((resolve) => {
    call.on("error", (error) => {
      if (cancelled) resolve(undefined);
      else void failure(Promise.reject(error)).then(resolve);
    });
    // "end" may come before the error's handler has run; a clean end is an OK status.
    call.on("status", (status: grpc.StatusObject) => {
      if (status.code === grpc.status.OK) resolve(undefined);
    });
  });
  return {
    ...face(r, ended, () => {
      cancelled = true;
      call.cancel();
    }),
    pause: () => call.pause(),
    resume: () => call.resume(),
  };
}

const VALUE_FIELDS = [
  "tracking_id",
  "email",
  "first_name",
  "last_name",
  "phone",
  "company",
  "title",
  "country",
  "number_and_street",
  "city",
  "state",
  "zip_code",
  "prefix",
  "suffix",
  "note",
] as const;
const ID_FIELDS = ["client_ids", "investment_entity_ids"] as const;
const camel = (field: string) => field.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** A copy of a firm's contacts kept only from the changes a watch delivered: what a replica would hold. */
export type Replica = Map<string, Record<string, string | string[]>>;

/** Applies changes in order to a replica (kind numbers as ChangeKind: 1 created ... 5 unassigned). */
export function replay(changes: readonly ContactChange[], replica: Replica = new Map()): Replica {
  for (const change of changes) {
    if (change.kind === 3) {
      replica.delete(change.contactId);
      continue;
    }
    const contact = replica.get(change.contactId) ?? { client_ids: [], investment_entity_ids: [] };
    for (const { field, oldValue, newValue } of change.fields) {
      if ((ID_FIELDS as readonly string[]).includes(field)) {
        const ids = new Set(contact[field] as string[]);
        if (oldValue !== undefined) ids.delete(oldValue);
        if (newValue !== undefined) ids.add(newValue);
        contact[field] = [...ids].sort();
      } else if (newValue === undefined) delete contact[field];
      else contact[field] = newValue;
    }
    replica.set(change.contactId, contact);
  }
  return replica;
}

/** The same shape as `replay` builds, from contacts as ListContacts returns them. */
export function replicaOf(contacts: readonly Record<string, unknown>[]): Replica {
  const replica: Replica = new Map();
  for (const contact of contacts) {
    const record: Record<string, string | string[]> = {};
    for (const field of VALUE_FIELDS) {
      const value = contact[camel(field)];
      if (typeof value === "string") record[field] = value;
    }
    for (const field of ID_FIELDS) record[field] = [...(contact[camel(field)] as string[])].sort();
    replica.set(String(contact.id), record);
  }
  return replica;
}

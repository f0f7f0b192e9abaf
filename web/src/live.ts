import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { ChangeKind, type ContactChange } from "../../gen/contacts/v1/contact_service_pb.js";
import type { Api } from "./api.js";

/** The longest wait before reconnecting the live feed after it dropped. */
export const MAX_RECONNECT_MS = 15_000;

export interface LiveDeps {
  readonly api: Api;
  readonly firmId: string;
  /** Where to start when there is no resume token: after the newest change the book listed. */
  readonly since: () => Date | undefined;
  readonly changed: (change: ContactChange) => void;
  /** The feed is connected (true) or dropped and reconnecting (false). */
  readonly connected: (up: boolean) => void;
  /** The feed cannot continue from where it was (too old a point): the book must be shown again. */
  readonly lost: () => void;
  readonly failed: (error: ConnectError) => void;
}

/**
 * Follows WatchContactChanges for the firm, resuming after a dropped connection from the last message's
 * resume token (so nothing is missed or repeated), with a growing wait, or at once when the browser is online
 * again. Returns a stop function.
 */
export function startLive(deps: LiveDeps): () => void {
  let stopped = false;
  let resumeToken = "";
  let controller = new AbortController();
  let wake: (() => void) | undefined;

  const online = () => wake?.();
  // Offline, the open stream may hang rather than fail: drop it, and resume from the token once online.
  const offline = () => controller.abort();
  window.addEventListener("online", online);
  window.addEventListener("offline", offline);

  const run = async () => {
    let delay = 500;
    while (!stopped) {
      controller = new AbortController();
      try {
        const since = deps.since();
        const stream = deps.api.client.watchContactChanges(
          {
            firmId: deps.firmId,
            resumeToken,
            ...(resumeToken === "" && since ? { startTime: timestampFromDate(since) } : {}),
          },
          deps.api.streamOptions(controller.signal),
        );
        let first = true;
        for await (const message of stream) {
          if (first) {
            deps.connected(true);
            first = false;
            delay = 500;
          }
          for (const change of message.changes) deps.changed(change);
          if (message.resumeToken) resumeToken = message.resumeToken;
        }
      } catch (failure) {
        if (stopped) return;
        const problem = ConnectError.from(failure);
        if (problem.code === Code.Unauthenticated || problem.code === Code.PermissionDenied) {
          deps.failed(problem);
          return;
        }
        if (problem.code === Code.OutOfRange) {
          resumeToken = "";
          deps.lost();
        }
      }
      if (stopped) return;
      deps.connected(false);
      await new Promise<void>((resolve) => {
        // Offline, wait for the browser to say it is back.
        const timer = navigator.onLine ? setTimeout(resolve, delay) : undefined;
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
      delay = Math.min(delay * 2, MAX_RECONNECT_MS);
    }
  };
  void run();
  return () => {
    stopped = true;
    controller.abort();
    wake?.();
    window.removeEventListener("online", online);
    window.removeEventListener("offline", offline);
  };
}

/** Whether a change removes the contact from the book. */
export const isDeletion = (change: ContactChange) => change.kind === ChangeKind.DELETED;

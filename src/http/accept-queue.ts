import { readFileSync } from "node:fs";

const LISTEN = "0A";

/**
 * Connections the kernel has completed for a listening port that the process has not accepted yet, read from
 * /proc/net/tcp and tcp6 (for a listening socket, rx_queue is its accept queue); 0 where that cannot be read (not
 * Linux). Closing the listener would reset each of them.
 */
export function acceptQueueLength(
  port: number,
  read: (path: string) => string = (path) => readFileSync(path, "utf8"),
): number {
  let total = 0;
  for (const path of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = read(path);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue ...
      const [, local, , state, queues] = line.trim().split(/\s+/);
      if (state !== LISTEN || !local || !queues) continue;
      if (Number.parseInt(local.slice(local.lastIndexOf(":") + 1), 16) !== port) continue;
      total += Number.parseInt(queues.slice(queues.indexOf(":") + 1), 16) || 0;
    }
  }
  return total;
}

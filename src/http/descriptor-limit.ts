import { readFileSync } from "node:fs";

/** Below this soft limit on open files the server warns at start: its default connection cap is small. */
export const LOW_DESCRIPTOR_LIMIT = 4_096;
/** Assumed when the limit cannot be read (not Linux): the usual default soft limit. */
export const ASSUMED_DESCRIPTOR_LIMIT = 1_024;

/**
 * The process's soft limit on open file descriptors (`ulimit -n`), read from /proc/self/limits; undefined when
 * it cannot be read (not Linux) or is unlimited.
 */
export function readDescriptorLimit(read: () => string = () => readFileSync("/proc/self/limits", "utf8")) {
  try {
    return parseDescriptorLimit(read());
  } catch {
    return undefined;
  }
}

/** The soft "Max open files" of a /proc/<pid>/limits text. */
export function parseDescriptorLimit(text: string): number | undefined {
  const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  const soft = match?.[1];
  return soft === undefined || soft === "unlimited" ? undefined : Number(soft);
}

/**
 * MAX_CONNECTIONS when not set: half the descriptor limit. The other half is for everything else the process
 * opens (database pool, logs) and for the sockets that arrive in one burst before the oldest idle ones close.
 */
export function defaultMaxConnections(descriptorLimit: number | undefined): number {
  return Math.max(1, Math.floor((descriptorLimit ?? ASSUMED_DESCRIPTOR_LIMIT) / 2));
}

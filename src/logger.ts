import { pino } from "pino";
import type { LogLevel } from "./config.js";

/** The structured logger every layer receives; JSON lines on stdout. */
export type Logger = pino.Logger;

/** A JSON logger at `level`. Call logs never hold request or response bodies: contacts are personal data. */
export function createLogger(level: LogLevel): Logger {
  return pino({ level, base: { service: "contacts" }, timestamp: pino.stdTimeFunctions.isoTime });
}

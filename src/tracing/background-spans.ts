import { ROOT_CONTEXT } from "@opentelemetry/api";
import { inSpan, type Tracing } from "./tracing.js";

/** Runs one batch of a background loop; resolves with the rows it handled. */
export type BatchRunner = (batch: () => Promise<number>) => Promise<number>;

/**
 * Each batch of a background purge as the root span of a trace of its own (no call caused it), named `name`,
 * with the rows it deleted; undefined without tracing, so the loop runs its batches as before.
 */
export function tracedBatches(tracing: Tracing | undefined, name: string): BatchRunner | undefined {
  if (!tracing) return undefined;
  return (batch) =>
    inSpan(tracing, name, { parent: ROOT_CONTEXT }, async (span) => {
      const deleted = await batch();
      span.setAttribute("contacts.purge.deleted", deleted);
      return deleted;
    });
}

/** The use cases that write a firm's contacts: each takes a request with the firm's id. */
export const WRITE_USE_CASES = [
  "upsertContact",
  "batchUpsertContacts",
  "updateContact",
  "deleteContact",
  "assignContact",
  "unassignContact",
] as const;

type AnyUseCase = (request: never, ...rest: never[]) => Promise<unknown>;

/**
 * Wraps the write use cases so that each call, once it has settled (committed or not), tells the feed its firm
 * (`notify`): watchers on this instance then see the change at the next poll, started at once, rather than up to
 * FEED_POLL_MS later. A call that wrote nothing costs one clock read at most, and only for a watched firm.
 */
export function notifyingWrites<T extends { readonly [K in keyof T]: unknown }>(
  useCases: T,
  notify: (firmId: string) => void,
): T {
  const wrapped: Record<string, unknown> = { ...useCases };
  for (const name of WRITE_USE_CASES) {
    const useCase = (useCases as Record<string, unknown>)[name] as AnyUseCase | undefined;
    if (!useCase) continue;
    wrapped[name] = async (request: { readonly firmId?: unknown }, ...rest: never[]) => {
      try {
        return await useCase(request as never, ...rest);
      } finally {
        if (typeof request.firmId === "string") notify(request.firmId.trim());
      }
    };
  }
  return wrapped as T;
}

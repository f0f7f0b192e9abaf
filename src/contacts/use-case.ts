import type { Actor } from "./actor.js";

/**
 * A use case as every transport calls it: a request, the call's signal and who makes it, an answer. Declared with
 * the use cases, so that the layers above (handlers, admission, deadlines) all import it downwards.
 */
export type UseCase<Request, Response> = (
  request: Request,
  signal?: AbortSignal,
  actor?: Actor,
) => Promise<Response>;

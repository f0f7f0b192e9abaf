import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { type Authenticate, grantsFirm } from "../auth/api-keys.js";
import { principalKey, requestFirmId } from "./call-context.js";

/**
 * Requires a known bearer token on every call of the given services, and a grant for the request's firm,
 * before the handler runs: a refused call reads and writes nothing. Other services (health, reflection) stay
 * open, for load balancers and schema discovery.
 */
export function authInterceptor(
  authenticate: Authenticate,
  protectedServices: ReadonlySet<string>,
): Interceptor {
  return (next) => async (request) => {
    if (!protectedServices.has(request.service.typeName)) return next(request);
    const principal = authenticate(request.header.get("authorization"));
    if (!principal) {
      throw new ConnectError("send a valid API key as `authorization: Bearer <token>`", Code.Unauthenticated);
    }
    request.contextValues.set(principalKey, principal);
    // Only unary calls carry one message whose firm can be checked before the handler runs.
    if (request.stream)
      throw new ConnectError("streaming calls are not authorized per firm", Code.Unimplemented);
    const firmId = requestFirmId(request)?.trim();
    if (firmId && !grantsFirm(principal, firmId)) {
      // The firm id is not echoed: it is unvalidated input, of any length.
      throw new ConnectError(
        `the API key "${principal.name}" is not granted the request's firm`,
        Code.PermissionDenied,
      );
    }
    return next(request);
  };
}

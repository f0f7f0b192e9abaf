import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { UniversalServerRequest } from "@connectrpc/connect/protocol";
import { type Authenticate, grantsFirm, type Principal } from "../auth/api-keys.js";
import { principalKey, requestFirmId } from "./call-context.js";

/**
 * Authenticates calls of the given services from their `authorization` header alone, for createNodeHandler's
 * `admit`: an unauthenticated call is refused before its body is read, decompressed or parsed, so it costs
 * nothing however large or deeply nested that body is. Other services (health, reflection) stay open, for load
 * balancers and schema discovery.
 */
export function authenticateHeaders(
  authenticate: Authenticate,
  protectedServices: ReadonlySet<string>,
): (method: DescMethod, request: UniversalServerRequest) => ConnectError | undefined {
  return (method, request) => {
    if (!protectedServices.has(method.parent.typeName)) return undefined;
    const principal = authenticate(request.header.get("authorization"));
    if (!principal) return unauthenticated();
    request.contextValues?.set(principalKey, principal);
    return undefined;
  };
}

/**
 * Requires a grant for the request's firm on every call of the given services, before the handler runs: a
 * refused call reads and writes nothing. The caller was authenticated from the headers (authenticateHeaders).
 */
export function authInterceptor(protectedServices: ReadonlySet<string>): Interceptor {
  return (next) => async (request) => {
    if (!protectedServices.has(request.service.typeName)) return next(request);
    const principal = request.contextValues.get(principalKey);
    if (!principal) throw unauthenticated();
    if (request.stream) {
      // A server stream's one message is checked as the handler reads it, before the handler starts.
      if (request.method.methodKind !== "server_streaming")
        throw new ConnectError("streaming calls are not authorized per firm", Code.Unimplemented);
      return next({ ...request, message: checkedMessages(request.message, principal) });
    }
    checkFirm(principal, requestFirmId(request));
    return next(request);
  };
}

function checkFirm(principal: Principal, sent: string | undefined): void {
  const firmId = sent?.trim();
  if (firmId && !grantsFirm(principal, firmId)) {
    // The firm id is not echoed: it is unvalidated input, of any length.
    throw new ConnectError(
      `the API key "${principal.name}" is not granted the request's firm`,
      Code.PermissionDenied,
    );
  }
}

async function* checkedMessages<T>(messages: AsyncIterable<T>, principal: Principal): AsyncGenerator<T> {
  for await (const message of messages) {
    const firmId = (message as { firmId?: unknown }).firmId;
    checkFirm(principal, typeof firmId === "string" ? firmId : undefined);
    yield message;
  }
}

const unauthenticated = () =>
  new ConnectError("send a valid API key as `authorization: Bearer <token>`", Code.Unauthenticated);

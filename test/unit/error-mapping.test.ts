import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ErrorInfoSchema, RetryInfoSchema } from "../../gen-deps/google/rpc/error_details_pb.js";
import {
  ConflictError,
  ContentionError,
  LimitExceededError,
  NotFoundError,
  OverloadedError,
  UnavailableError,
  ValidationError,
} from "../../src/contacts/errors.js";
import { toConnectError } from "../../src/rpc/error-mapping.js";
import { FirmBusyError } from "../../src/rpc/firm-limit.js";

// The one error table: every domain error gets its code, and a program can act on each without parsing text.

const retryDelayMs = (error: ConnectError): number[] =>
  error
    .findDetails(RetryInfoSchema)
    .map((info) => Number(info.retryDelay?.seconds ?? 0n) * 1000 + (info.retryDelay?.nanos ?? 0) / 1e6);

describe("toConnectError", () => {
  it("a lost race is ABORTED with a short suggested retry delay", () => {
    const { error, unexpected } = toConnectError(new ContentionError(10));
    expect(unexpected).toBe(false);
    expect(error.code).toBe(Code.Aborted);
    expect(retryDelayMs(error)).toEqual([50]);
  });

  it("an unreachable database is UNAVAILABLE with a longer suggested retry delay", () => {
    const { error } = toConnectError(new UnavailableError("the database is unavailable"));
    expect(error.code).toBe(Code.Unavailable);
    expect(retryDelayMs(error)).toEqual([1000]);
  });

  it("a call shed under overload is UNAVAILABLE, and one beyond its firm's cap RESOURCE_EXHAUSTED, both retryable", () => {
    const shed = toConnectError(new OverloadedError("no database connection was free")).error;
    const busy = toConnectError(new FirmBusyError(64)).error;
    expect(shed.code).toBe(Code.Unavailable);
    expect(busy.code).toBe(Code.ResourceExhausted);
    expect(busy.rawMessage).toContain("FIRM_MAX_IN_FLIGHT");
    expect(retryDelayMs(shed)).toEqual([250]);
    expect(retryDelayMs(busy)).toEqual([250]);
  });

  it("a caller's mistake suggests no retry", () => {
    const invalid = toConnectError(
      new ValidationError([{ field: "email", description: "is required" }]),
    ).error;
    const conflict = toConnectError(new ConflictError("email: taken", "EMAIL_TAKEN", "email", "c-1")).error;
    expect(invalid.code).toBe(Code.InvalidArgument);
    expect(conflict.code).toBe(Code.AlreadyExists);
    expect(retryDelayMs(invalid)).toEqual([]);
    expect(retryDelayMs(conflict)).toEqual([]);
    expect(conflict.findDetails(ErrorInfoSchema)[0]).toMatchObject({
      reason: "EMAIL_TAKEN",
      domain: "contacts.v1",
      metadata: { field: "email", contactId: "c-1" },
    });
  });

  it("the conflict's reason is data: TRACKING_ID_TAKEN travels the same way", () => {
    const { error } = toConnectError(
      new ConflictError("contact.trackingId: taken", "TRACKING_ID_TAKEN", "contact.trackingId", "c-2"),
    );
    expect(error.code).toBe(Code.AlreadyExists);
    expect(error.findDetails(ErrorInfoSchema)[0]).toMatchObject({
      reason: "TRACKING_ID_TAKEN",
      metadata: { field: "contact.trackingId", contactId: "c-2" },
    });
  });

  it("a missing contact is NOT_FOUND; an assignment over the limit is FAILED_PRECONDITION; neither suggests a retry", () => {
    const notFound = toConnectError(new NotFoundError()).error;
    const limit = toConnectError(new LimitExceededError("clientIds: too many", "clientIds")).error;
    expect(notFound.code).toBe(Code.NotFound);
    expect(limit.code).toBe(Code.FailedPrecondition);
    expect(retryDelayMs(notFound)).toEqual([]);
    expect(retryDelayMs(limit)).toEqual([]);
  });

  it("anything unmapped is INTERNAL without its text", () => {
    const { error, unexpected } = toConnectError(new Error("secret detail"));
    expect(unexpected).toBe(true);
    expect(error.code).toBe(Code.Internal);
    expect(error.rawMessage).not.toContain("secret");
  });

  it("a ConnectError passes through unchanged", () => {
    const original = new ConnectError("nope", Code.PermissionDenied);
    expect(toConnectError(original).error).toBe(original);
  });
});

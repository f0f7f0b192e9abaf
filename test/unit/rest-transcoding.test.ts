import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  ChangeKind,
  ContactService,
  ListContactChangesResponseSchema,
  MatchKey,
  MatchKeySchema,
  UpsertResult,
  UpsertResultSchema,
} from "../../gen/contacts/v1/contact_service_pb.js";
import { RetryInfoSchema } from "../../gen-deps/google/rpc/error_details_pb.js";
import { protoEnumName, renameEnums, restEnumName } from "../../src/http/rest/enum-names.js";
import { type RestRoute, readRestRoutes } from "../../src/http/rest/http-rules.js";
import { matchPath, parsePathTemplate } from "../../src/http/rest/path-template.js";
import { restError } from "../../src/http/rest/rest-errors.js";
import { transcodeRequest } from "../../src/http/rest/transcode-request.js";

const routes = readRestRoutes([ContactService]);
const routeOf = (name: string): RestRoute => {
  const route = routes.find((r) => r.method.name === name);
  if (!route) throw new Error(name);
  return route;
};
const failure = (run: () => unknown): ConnectError => {
  try {
    run();
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("did not throw");
};

describe("path templates", () => {
  it("parse literals, variables and a custom verb", () => {
    expect(parsePathTemplate("/v1/firms/{firm_id}/contacts/{contact_id}:assign")).toEqual({
      text: "/v1/firms/{firm_id}/contacts/{contact_id}:assign",
      segments: [
        { kind: "literal", value: "v1" },
        { kind: "literal", value: "firms" },
        { kind: "variable", field: "firm_id" },
        { kind: "literal", value: "contacts" },
        { kind: "variable", field: "contact_id" },
      ],
      verb: "assign",
    });
    expect(parsePathTemplate("/v1/firms/{firm_id}/contacts/{contact.id}").verb).toBeUndefined();
  });

  it("refuse what the transcoder cannot route", () => {
    expect(() => parsePathTemplate("/v1/{name=firms/*}")).toThrow();
    expect(() => parsePathTemplate("/v1/**")).toThrow();
    expect(() => parsePathTemplate("v1/x")).toThrow();
  });

  it("match raw segments, the verb included, and nothing else", () => {
    const assign = parsePathTemplate("/v1/firms/{firm_id}/contacts/{contact_id}:assign");
    expect(matchPath(assign, "/v1/firms/a%20b/contacts/7:assign")).toEqual(
      new Map([
        ["firm_id", "a%20b"],
        ["contact_id", "7"],
      ]),
    );
    expect(matchPath(assign, "/v1/firms/a/contacts/7:unassign")).toBeUndefined();
    expect(matchPath(assign, "/v1/firms/a/contacts/7")).toBeUndefined();
    expect(matchPath(assign, "/v1/firms//contacts/7:assign")).toBeUndefined();
    expect(matchPath(assign, "/v1/firms/a/b/contacts/7:assign")).toBeUndefined();
  });
});

describe("the routes read from the descriptors", () => {
  it("give every ContactService RPC one route", () => {
    expect(routes.map((r) => `${r.httpMethod} ${r.template.text} ${r.body}`)).toEqual([
      "POST /v1/firms/{firm_id}/contacts:upsert *",
      "GET /v1/firms/{firm_id}/contacts/{id} ",
      "GET /v1/firms/{firm_id}/contacts ",
      "PATCH /v1/firms/{firm_id}/contacts/{contact.id} contact",
      "DELETE /v1/firms/{firm_id}/contacts/{id} ",
      "POST /v1/firms/{firm_id}/contacts/{contact_id}:assign *",
      "POST /v1/firms/{firm_id}/contacts/{contact_id}:unassign *",
      "POST /v1/firms/{firm_id}/contacts:batchUpsert *",
      "GET /v1/firms/{firm_id}/contacts/{contact_id}/changes ",
    ]);
  });
});

describe("transcodeRequest", () => {
  const upsert = routeOf("UpsertContact");
  const list = routeOf("ListContacts");
  const update = routeOf("UpdateContact");
  const firm = new Map([["firm_id", "acme"]]);

  it("takes the body as the request and the firm from the path, decoded once", () => {
    expect(
      transcodeRequest(upsert, new Map([["firm_id", "a%2541%20b"]]), new URLSearchParams(), { email: "a@x" }),
    ).toEqual({ email: "a@x", firmId: "a%41 b" });
  });

  it("accepts the firm in the body when it is the path's, by JSON or proto name", () => {
    expect(transcodeRequest(upsert, firm, new URLSearchParams(), { firm_id: "acme" })).toEqual({
      firmId: "acme",
    });
    expect(transcodeRequest(upsert, firm, new URLSearchParams(), { firmId: "acme" })).toEqual({
      firmId: "acme",
    });
  });

  it("refuses a body firm that differs from the path's, naming firmId", () => {
    const error = failure(() => transcodeRequest(upsert, firm, new URLSearchParams(), { firmId: "other" }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toBe("firmId: the body's value differs from the path's");
  });

  it('refuses a path value holding "/" or bad percent-encoding', () => {
    const slash = failure(() =>
      transcodeRequest(upsert, new Map([["firm_id", "a%2Fb"]]), new URLSearchParams(), {}),
    );
    expect(slash.rawMessage).toBe('firmId: may not contain "/" in the path');
    const bad = failure(() =>
      transcodeRequest(upsert, new Map([["firm_id", "%E0%A4%A"]]), new URLSearchParams(), {}),
    );
    expect(bad.rawMessage).toBe("firmId: is not validly percent-encoded in the path");
  });

  it("maps query parameters by JSON or proto name, booleans as JSON booleans, numbers as strings", () => {
    const query = new URLSearchParams("pageSize=5&show_deleted=true&updatedAfter=2024-01-01T00:00:00Z");
    expect(transcodeRequest(list, firm, query, undefined)).toEqual({
      firmId: "acme",
      pageSize: "5",
      showDeleted: true,
      updatedAfter: "2024-01-01T00:00:00Z",
    });
  });

  it("refuses an unknown query parameter, a path-bound one, and any with a whole-request body", () => {
    for (const [route, q] of [
      [list, "pagesize=1"],
      [list, "firmId=acme"],
      [upsert, "email=a@x"],
      [update, "contact.title=x"],
    ] as const) {
      const error = failure(() => transcodeRequest(route, firm, new URLSearchParams(q), {}));
      expect(error.rawMessage).toMatch(/: unknown field$/);
    }
  });

  it("puts the body in the body field, with the nested path variable, and the mask from the query", () => {
    const values = new Map([
      ["firm_id", "acme"],
      ["contact.id", "42"],
    ]);
    expect(
      transcodeRequest(update, values, new URLSearchParams("updateMask=title"), { title: "CFO" }),
    ).toEqual({
      firmId: "acme",
      contact: { title: "CFO", id: "42" },
      updateMask: "title",
    });
    const error = failure(() => transcodeRequest(update, values, new URLSearchParams(), { id: "43" }));
    expect(error.rawMessage).toBe("contact.id: the body's value differs from the path's");
  });

  it("refuses a body that is not a JSON object", () => {
    expect(failure(() => transcodeRequest(upsert, firm, new URLSearchParams(), [1])).code).toBe(
      Code.InvalidArgument,
    );
  });
});

describe("enum values on the REST routes", () => {
  it("are the proto name without the enum's prefix, in lower case", () => {
    expect(restEnumName(UpsertResultSchema, UpsertResultSchema.value[UpsertResult.CREATED]?.name ?? "")).toBe(
      "created",
    );
    expect(restEnumName(MatchKeySchema, "MATCH_KEY_TRACKING_ID")).toBe("tracking_id");
  });

  it("are accepted in either form and given back in the proto form for decoding", () => {
    expect(protoEnumName(MatchKeySchema, "tracking_id")).toBe("MATCH_KEY_TRACKING_ID");
    expect(protoEnumName(MatchKeySchema, "MATCH_KEY_EMAIL")).toBe("MATCH_KEY_EMAIL");
    expect(protoEnumName(MatchKeySchema, MatchKey.EMAIL)).toBe(MatchKey.EMAIL);
    expect(protoEnumName(MatchKeySchema, "nonsense")).toBe("nonsense");
  });

  it("are renamed inside lists of nested messages", () => {
    const json = { changes: [{ kind: "CHANGE_KIND_ASSIGNED", fields: [] }], nextPageToken: "t" };
    expect(
      renameEnums(ListContactChangesResponseSchema, json, (desc, v) =>
        typeof v === "string" ? restEnumName(desc, v) : v,
      ),
    ).toEqual({ changes: [{ kind: "assigned", fields: [] }], nextPageToken: "t" });
    expect(ChangeKind.ASSIGNED).toBe(4);
  });
});

describe("REST errors", () => {
  it("take google.rpc.Code's HTTP status and name", () => {
    const cases: [Code, number, string][] = [
      [Code.InvalidArgument, 400, "INVALID_ARGUMENT"],
      [Code.Unauthenticated, 401, "UNAUTHENTICATED"],
      [Code.PermissionDenied, 403, "PERMISSION_DENIED"],
      [Code.NotFound, 404, "NOT_FOUND"],
      [Code.AlreadyExists, 409, "ALREADY_EXISTS"],
      [Code.Aborted, 409, "ABORTED"],
      [Code.FailedPrecondition, 400, "FAILED_PRECONDITION"],
      [Code.ResourceExhausted, 429, "RESOURCE_EXHAUSTED"],
      [Code.Unavailable, 503, "UNAVAILABLE"],
      [Code.DeadlineExceeded, 504, "DEADLINE_EXCEEDED"],
      [Code.Canceled, 499, "CANCELLED"],
      [Code.Internal, 500, "INTERNAL"],
    ];
    for (const [code, status, name] of cases) {
      const error = restError(new ConnectError("m", code));
      expect(error.status).toBe(status);
      expect(error.body.error).toEqual({ code: status, message: "m", status: name, details: [] });
    }
  });

  it("give Retry-After in whole seconds, at least 1, from a RetryInfo detail", () => {
    const retry = (seconds: bigint, nanos: number) =>
      restError(
        new ConnectError("busy", Code.ResourceExhausted, undefined, [
          { desc: RetryInfoSchema, value: create(RetryInfoSchema, { retryDelay: { seconds, nanos } }) },
        ]),
      );
    const short = retry(0n, 250_000_000);
    expect(short.headers).toEqual({ "retry-after": "1" });
    expect(short.body.error.details).toEqual([
      { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "0.250s" },
    ]);
    expect(retry(2n, 500_000_000).headers).toEqual({ "retry-after": "3" });
    expect(restError(new ConnectError("x", Code.Unavailable)).headers).toEqual({});
  });
});

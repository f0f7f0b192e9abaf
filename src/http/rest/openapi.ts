import {
  type DescField,
  type DescMessage,
  type DescMethod,
  type DescService,
  ScalarType,
} from "@bufbuild/protobuf";
import { MAX_LENGTH } from "../../contacts/fields.js";
import { REQUEST_ID_MAX_LENGTH } from "../../contacts/request-ids.js";
import { restEnumName } from "./enum-names.js";
import { type RestRoute, readRestRoutes } from "./http-rules.js";

type Json = Record<string, unknown>;
/** The comment of a descriptor in the .proto source ("" when it has none, or the descriptors carry none). */
export type CommentsOf = (desc: DescService | DescMethod | DescMessage | DescField) => string;

/** The rule for enum values on the REST routes, stated once for the document and docs/api.md. */
export const REST_ENUM_RULE =
  "Enum values on these routes are the proto value name without the enum's prefix, in lower case " +
  '(UPSERT_RESULT_CREATED is "created", MATCH_KEY_TRACKING_ID is "tracking_id"); requests may use either form.';

const ERROR_SCHEMA: Json = {
  type: "object",
  description:
    "An error (AIP-193): the HTTP status is google.rpc.Code's for `status`; `details` are google.rpc error details " +
    "(BadRequest, ErrorInfo, RetryInfo) as protobuf JSON of an Any. A RetryInfo detail also sets `Retry-After`.",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message", "status", "details"],
      properties: {
        code: { type: "integer", description: "The HTTP status." },
        message: {
          type: "string",
          description: "What went wrong; for INVALID_ARGUMENT it names each field.",
        },
        status: {
          type: "string",
          enum: [
            "CANCELLED",
            "UNKNOWN",
            "INVALID_ARGUMENT",
            "DEADLINE_EXCEEDED",
            "NOT_FOUND",
            "ALREADY_EXISTS",
            "PERMISSION_DENIED",
            "RESOURCE_EXHAUSTED",
            "FAILED_PRECONDITION",
            "ABORTED",
            "OUT_OF_RANGE",
            "UNIMPLEMENTED",
            "INTERNAL",
            "UNAVAILABLE",
            "DATA_LOSS",
            "UNAUTHENTICATED",
          ],
        },
        details: { type: "array", items: { $ref: "#/components/schemas/google.protobuf.Any" } },
      },
    },
  },
};

const EXAMPLES: Readonly<Record<string, { request: Json; response: Json }>> = {
  UpsertContact: {
    request: { firstName: "Ann", lastName: "Lee", email: "ann@example.com", trackingId: "crm-1042" },
    response: {
      contact: {
        id: "1",
        firmId: "acme",
        trackingId: "crm-1042",
        email: "ann@example.com",
        firstName: "Ann",
        lastName: "Lee",
        createTime: "2026-01-05T09:30:00.000Z",
        updateTime: "2026-01-05T09:30:00.000Z",
      },
      result: "created",
      changedFields: "trackingId,email,firstName,lastName",
    },
  },
};

/**
 * The OpenAPI 3.1 document of `services`' REST routes, from their descriptors: paths and operations from the
 * google.api.http options, schemas from the messages (JSON names, comments, the field limits the service
 * enforces), enums in the REST form, and the AIP-193 error schema. Deterministic, so CI can check that the
 * committed copy is current.
 */
export function openApiDocument(services: readonly DescService[], commentsOf: CommentsOf): Json {
  const schemas: Record<string, Json> = {
    Error: ERROR_SCHEMA,
    "google.protobuf.Any": {
      type: "object",
      description: "A message of the type `@type` names, written with its own JSON fields.",
      required: ["@type"],
      properties: { "@type": { type: "string" } },
      additionalProperties: true,
    },
  };
  const paths: Record<string, Record<string, Json>> = {};
  const addSchema = (message: DescMessage): string => {
    const ref = `#/components/schemas/${message.typeName}`;
    if (schemas[message.typeName]) return ref;
    schemas[message.typeName] = {}; // reserved first: messages may refer to each other
    schemas[message.typeName] = messageSchema(message, commentsOf, addSchema);
    return ref;
  };
  for (const route of readRestRoutes(services)) {
    const path = route.template.text;
    paths[path] ??= {};
    (paths[path] as Record<string, Json>)[route.httpMethod.toLowerCase()] = operation(
      route,
      commentsOf,
      addSchema,
    );
  }
  const service = services[0];
  return {
    openapi: "3.1.0",
    info: {
      title: services.map((s) => s.typeName).join(", "),
      version: "v1",
      description: `${service ? commentsOf(service) : ""}\n\n${REST_ENUM_RULE}`.trim(),
    },
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b))),
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "An API key, when the server is configured with API_KEYS_FILE.",
        },
      },
    },
    security: [{}, { bearer: [] }],
  };
}

function operation(route: RestRoute, commentsOf: CommentsOf, addSchema: (m: DescMessage) => string): Json {
  const { method } = route;
  const description = commentsOf(method);
  const parameters: Json[] = [];
  for (const [name, fields] of route.pathFields) {
    const field = fields.at(-1) as DescField;
    parameters.push({
      name,
      in: "path",
      required: true,
      description: commentsOf(field),
      schema: fieldSchema(
        field,
        fields.length === 1 ? method.input : (fields.at(-2)?.message ?? method.input),
        addSchema,
      ),
    });
  }
  if (route.body !== "*") {
    const bound = new Set([...route.pathFields.values()].map((fields) => fields[0]));
    for (const field of method.input.fields) {
      if (bound.has(field) || field === route.bodyField || field.fieldKind === "map") continue;
      if (field.fieldKind === "message" && !STRING_MESSAGES[field.message.typeName]) continue;
      parameters.push({
        name: field.jsonName,
        in: "query",
        description: commentsOf(field),
        schema: fieldSchema(field, method.input, addSchema),
      });
    }
  }
  const example = EXAMPLES[method.name];
  const result: Json = {
    operationId: method.name,
    summary: firstSentence(description),
    description,
    parameters,
    responses: {
      "200": {
        description: "OK",
        content: {
          "application/json": {
            schema: { $ref: addSchema(method.output) },
            ...(example ? { example: example.response } : {}),
          },
        },
      },
      default: {
        description: "An error",
        content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
      },
    },
  };
  if (route.body !== "") {
    const bodyMessage = route.bodyField?.message ?? method.input;
    result.requestBody = {
      required: true,
      content: {
        "application/json": {
          schema: { $ref: addSchema(bodyMessage) },
          ...(example ? { example: example.request } : {}),
        },
      },
    };
  }
  return result;
}

// Well-known messages whose JSON form is a string.
const STRING_MESSAGES: Readonly<Record<string, Json>> = {
  "google.protobuf.Timestamp": { type: "string", format: "date-time" },
  "google.protobuf.Duration": { type: "string", pattern: "^-?[0-9]+(\\.[0-9]+)?s$" },
  "google.protobuf.FieldMask": {
    type: "string",
    description: "Field paths joined by commas, each in lowerCamelCase.",
  },
};

function messageSchema(
  message: DescMessage,
  commentsOf: CommentsOf,
  addSchema: (m: DescMessage) => string,
): Json {
  const properties: Record<string, Json> = {};
  for (const field of message.fields) {
    const description = commentsOf(field);
    properties[field.jsonName] = {
      ...fieldSchema(field, message, addSchema),
      ...(description ? { description } : {}),
    };
  }
  const description = commentsOf(message);
  return {
    type: "object",
    ...(description ? { description } : {}),
    properties,
    additionalProperties: false,
  };
}

function fieldSchema(field: DescField, parent: DescMessage, addSchema: (m: DescMessage) => string): Json {
  const one = (): Json => {
    if (field.enum) {
      return {
        type: "string",
        enum: field.enum.values.map((v) => restEnumName(field.enum as never, v.name)),
      };
    }
    if (field.message) {
      return STRING_MESSAGES[field.message.typeName] ?? { $ref: addSchema(field.message) };
    }
    return scalarSchema(field, parent);
  };
  if (field.fieldKind === "list") return { type: "array", items: one() };
  if (field.fieldKind === "map") return { type: "object", additionalProperties: one() };
  return one();
}

// Messages whose string fields carry the upsert's limits (src/contacts/fields.ts).
const LIMITED_MESSAGES = new Set(["contacts.v1.UpsertContactRequest", "contacts.v1.Contact"]);

function scalarSchema(field: DescField, parent: DescMessage): Json {
  const scalar = "scalar" in field ? field.scalar : undefined;
  switch (scalar) {
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", format: "int32" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "uint32" };
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { type: "string", format: scalar === ScalarType.UINT64 ? "uint64" : "int64" };
    case ScalarType.FLOAT:
    case ScalarType.DOUBLE:
      return { type: "number" };
    case ScalarType.BYTES:
      return { type: "string", contentEncoding: "base64" };
    default: {
      const limit =
        field.jsonName === "firmId"
          ? MAX_LENGTH.firmId
          : field.jsonName === "requestId"
            ? REQUEST_ID_MAX_LENGTH
            : LIMITED_MESSAGES.has(parent.typeName)
              ? (MAX_LENGTH as Record<string, number>)[field.jsonName]
              : undefined;
      return limit === undefined ? { type: "string" } : { type: "string", maxLength: limit };
    }
  }
}

function firstSentence(text: string): string {
  const match = /^(.*?[.!?])(\s|$)/s.exec(text);
  return (match?.[1] ?? text).replace(/\s+/g, " ");
}

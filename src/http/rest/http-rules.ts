import { type DescField, type DescMethod, type DescService, getOption, hasOption } from "@bufbuild/protobuf";
import { http } from "../../../gen-deps/google/api/annotations_pb.js";
import type { HttpRule } from "../../../gen-deps/google/api/http_pb.js";
import { type PathTemplate, parsePathTemplate } from "./path-template.js";

/** One REST route of an RPC, read from its google.api.http option (or one of its additional bindings). */
export interface RestRoute {
  readonly method: DescMethod;
  /** Upper case: GET, POST, PATCH, PUT, DELETE. */
  readonly httpMethod: string;
  readonly template: PathTemplate;
  /** Each path variable's field path ("contact.id") with the fields it runs through. */
  readonly pathFields: ReadonlyMap<string, readonly DescField[]>;
  /** "" (no body), "*" (the body is the request), or the top-level field the body fills. */
  readonly body: string;
  readonly bodyField: DescField | undefined;
}

/**
 * The REST routes of every RPC of `services` that has a google.api.http option, read from the descriptors once.
 * Throws at start on a rule this transcoder cannot serve (a custom verb, a field path that does not exist, a
 * multi-segment variable), so a contract change cannot silently route wrongly.
 */
export function readRestRoutes(services: readonly DescService[]): RestRoute[] {
  const routes: RestRoute[] = [];
  for (const service of services) {
    for (const method of service.methods) {
      if (method.methodKind !== "unary" || !hasOption(method, http)) continue;
      const rule = getOption(method, http);
      for (const one of [rule, ...rule.additionalBindings]) routes.push(routeOf(method, one));
    }
  }
  return routes;
}

function routeOf(method: DescMethod, rule: HttpRule): RestRoute {
  const where = `${method.parent.typeName}/${method.name}`;
  if (rule.pattern.case === undefined || rule.pattern.case === "custom") {
    throw new Error(`${where}: google.api.http needs get, post, put, patch or delete`);
  }
  const template = parsePathTemplate(rule.pattern.value);
  const pathFields = new Map<string, readonly DescField[]>();
  for (const segment of template.segments) {
    if (segment.kind !== "variable") continue;
    const fields = resolveFieldPath(method.input, segment.field);
    const last = fields.at(-1);
    if (!fields.length || last?.fieldKind !== "scalar") {
      throw new Error(`${where}: path variable ${segment.field} is not a singular scalar field`);
    }
    pathFields.set(segment.field, fields);
  }
  let bodyField: DescField | undefined;
  if (rule.body !== "" && rule.body !== "*") {
    bodyField = method.input.fields.find((f) => f.name === rule.body);
    if (!bodyField) throw new Error(`${where}: body field ${rule.body} does not exist`);
  }
  return {
    method,
    httpMethod: rule.pattern.case.toUpperCase(),
    template,
    pathFields,
    body: rule.body,
    bodyField,
  };
}

/**
 * The fields a dotted path runs through, each part by proto name or JSON name; empty when a part names no
 * field or a non-final part is not a singular message.
 */
export function resolveFieldPath(message: DescMethod["input"], path: string): DescField[] {
  const fields: DescField[] = [];
  let current: DescMethod["input"] | undefined = message;
  for (const part of path.split(".")) {
    const field: DescField | undefined = current?.fields.find((f) => f.name === part || f.jsonName === part);
    if (!field) return [];
    fields.push(field);
    current = field.fieldKind === "message" ? field.message : undefined;
  }
  return fields;
}

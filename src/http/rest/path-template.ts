/** One segment of a google.api.http path template: a literal, or a variable bound to a request field path. */
export type TemplateSegment =
  | { readonly kind: "literal"; readonly value: string }
  | { readonly kind: "variable"; readonly field: string };

/** A parsed path template such as "/v1/firms/{firm_id}/contacts/{contact_id}:assign". */
export interface PathTemplate {
  readonly text: string;
  readonly segments: readonly TemplateSegment[];
  /** The custom verb after the last ':' ("assign"), if any. */
  readonly verb: string | undefined;
}

const LITERAL = /^[A-Za-z0-9._~-]+$/;
const VARIABLE = /^\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(?:=\*)?\}$/;

/**
 * Parses the subset of the HttpRule template grammar our contract uses: literal segments, single-segment
 * variables (`{field.path}` or `{field=*}`) and a custom verb. Anything else (`**`, multi-segment variables)
 * throws, at start, rather than routing wrongly.
 */
export function parsePathTemplate(text: string): PathTemplate {
  if (!text.startsWith("/")) throw new Error(`path template ${text} does not start with /`);
  const lastSlash = text.lastIndexOf("/");
  const colon = text.indexOf(":", Math.max(lastSlash, text.lastIndexOf("}")));
  const verb = colon >= 0 ? text.slice(colon + 1) : undefined;
  if (verb !== undefined && !LITERAL.test(verb)) throw new Error(`path template ${text} has a bad verb`);
  const path = colon >= 0 ? text.slice(0, colon) : text;
  const segments = path
    .slice(1)
    .split("/")
    .map((part): TemplateSegment => {
      const variable = VARIABLE.exec(part);
      if (variable) return { kind: "variable", field: variable[1] as string };
      if (LITERAL.test(part)) return { kind: "literal", value: part };
      throw new Error(`path template ${text}: segment "${part}" is not supported`);
    });
  return { text, segments, verb };
}

/**
 * Matches a request path (as sent, still percent-encoded, without the query) against a template. Returns each
 * variable's raw segment by field path, or undefined when the path does not fit. Decoding is the caller's, so
 * that an encoded "/" is seen as one and refused, and every value is decoded exactly once.
 */
export function matchPath(template: PathTemplate, rawPath: string): Map<string, string> | undefined {
  let path = rawPath;
  if (template.verb !== undefined) {
    const suffix = `:${template.verb}`;
    if (!path.endsWith(suffix)) return undefined;
    path = path.slice(0, -suffix.length);
  }
  if (!path.startsWith("/")) return undefined;
  const parts = path.slice(1).split("/");
  if (parts.length !== template.segments.length) return undefined;
  const bound = new Map<string, string>();
  for (const [i, segment] of template.segments.entries()) {
    const part = parts[i] as string;
    if (segment.kind === "literal") {
      if (part !== segment.value) return undefined;
    } else {
      if (part === "") return undefined;
      bound.set(segment.field, part);
    }
  }
  return bound;
}

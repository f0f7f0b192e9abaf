import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Middleware } from "../middleware.js";

// Swagger UI's own files, from the swagger-ui-dist package: the page loads nothing from elsewhere.
const ASSETS: Readonly<Record<string, string>> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui-standalone-preset.js": "text/javascript; charset=utf-8",
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>contacts.v1 REST API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-ui-standalone-preset.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;
// A file of its own rather than an inline script, so a Content-Security-Policy of 'self' would allow it.
const INIT = `window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout",
  // No badge from the public validator service: the page talks to this server only.
  validatorUrl: null,
});
`;

/**
 * The API reference page at GET /docs: Swagger UI, served by the service from the swagger-ui-dist package, on
 * /openapi.json, with a working "Try it out" against this server. Files are read once, at start.
 */
export function docsRoute(): Middleware {
  const dist = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  const files = new Map<string, { type: string; body: Buffer }>([
    ["/docs", { type: "text/html; charset=utf-8", body: Buffer.from(PAGE) }],
    ["/docs/", { type: "text/html; charset=utf-8", body: Buffer.from(PAGE) }],
    ["/docs/init.js", { type: "text/javascript; charset=utf-8", body: Buffer.from(INIT) }],
  ]);
  for (const [name, type] of Object.entries(ASSETS)) {
    files.set(`/docs/${name}`, { type, body: readFileSync(join(dist, name)) });
  }
  return (request, response) => {
    const file = files.get((request.url ?? "").split("?", 1)[0] as string);
    if (!file || (request.method !== "GET" && request.method !== "HEAD")) return false;
    response.writeHead(200, {
      "content-type": file.type,
      "content-length": String(file.body.length),
      "cache-control": "public, max-age=3600",
    });
    if (request.method === "HEAD") response.end();
    else response.end(file.body);
    return true;
  };
}

// Writes openapi/contacts.v1.openapi.json, the OpenAPI 3.1 document of the REST routes, from the contract: buf
// builds proto/ with its comments (the descriptors in gen/ carry none), and openApiDocument (src/http/rest/openapi.ts,
// from dist/: run `npm run build` first) turns the services into the document. Committed; CI checks it is current.
// Usage: node scripts/openapi.mjs [output-file]
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { getComments } from "@bufbuild/protoplugin";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const output = resolve(process.argv[2] ?? join(root, "openapi", "contacts.v1.openapi.json"));
const { openApiDocument } = await import(join(root, "dist", "src", "http", "rest", "openapi.js"));

execFileSync("node", [join(root, "scripts", "proto-deps.mjs")], { stdio: "inherit" });
const dir = mkdtempSync(join(tmpdir(), "openapi-"));
try {
  const image = join(dir, "image.binpb");
  // An image keeps source code info (comments) unless told otherwise.
  execFileSync("npx", ["buf", "build", "-o", image], { cwd: root, stdio: "inherit" });
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(image)));
  const service = registry.getService("contacts.v1.ContactService");
  if (!service) throw new Error("contacts.v1.ContactService is not in the image");
  const commentsOf = (desc) => (getComments(desc).leading ?? "").trim().replace(/^ /gm, "");
  writeFileSync(output, `${JSON.stringify(openApiDocument([service], commentsOf), null, 2)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

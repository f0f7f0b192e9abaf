// Copies the third-party .proto files our contract imports from their npm packages into proto-deps/ (ignored by
// git), the second module of buf.yaml, so buf can compile the contract without a copy of them in the repository.
// Usage: node scripts/proto-deps.mjs [target-dir]   (default: proto-deps next to this repository's buf.yaml)
import { cpSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const target = resolve(process.argv[2] ?? join(root, "proto-deps"));
const require = createRequire(join(root, "package.json"));
const googleProtoFiles = dirname(require.resolve("google-proto-files/package.json"));

// File path inside the package, which is also its import path.
const FILES = ["google/rpc/status.proto", "google/api/annotations.proto", "google/api/http.proto"];
for (const file of FILES) {
  mkdirSync(dirname(join(target, file)), { recursive: true });
  cpSync(join(googleProtoFiles, file), join(target, file));
}

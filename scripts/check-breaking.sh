#!/usr/bin/env bash
# buf breaking: the contract in proto/ must not break clients written against an earlier commit's (default HEAD~1,
# or the git ref given as the first argument). The earlier contract is unpacked into a temporary directory beside
# its third-party imports (proto-deps/ is not in git), since buf cannot read node_modules from a git ref.
set -euo pipefail
cd "$(dirname "$0")/.."
against=${1:-HEAD~1}
if ! git rev-parse -q --verify "$against^{commit}" >/dev/null; then
  echo "check:breaking: no commit $against to compare with; nothing checked"
  exit 0
fi
previous=$(mktemp -d)
trap 'rm -rf "$previous"' EXIT
git archive "$against" buf.yaml proto | tar -x -C "$previous"
node scripts/proto-deps.mjs "$previous/proto-deps"
node scripts/proto-deps.mjs
npx buf breaking proto --against "$previous/proto"
echo "check:breaking: proto/ is compatible with $against"

#!/usr/bin/env bash
# UpsertContact from the shell: gRPC with `buf curl` (schema read through the server's reflection) and Connect
# JSON with plain `curl`. Create a contact, update it, and see the details of two errors.
# Usage, from the repository (buf comes with its dev dependencies): examples/shell/upsert-contact.sh [URL]
# Environment: CONTACTS_URL (instead of the argument), FIRM_ID (default: a new firm each run, printed first), CONTACTS_TOKEN (an API key).
set -eo pipefail   # no -u: "${auth[@]}" of an empty array is an error under -u in bash 3.2 (macOS)

url=${1:-${CONTACTS_URL:-http://127.0.0.1:8080}}
# A firm of its own per run, so that what earlier runs (or other examples) stored cannot change what this prints.
firm=${FIRM_ID:-example-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')}
echo "firm $firm"
method="$url/contacts.v1.ContactService/UpsertContact"
auth=()
if [ -n "${CONTACTS_TOKEN:-}" ]; then auth=(-H "authorization: Bearer $CONTACTS_TOKEN"); fi

# gRPC needs HTTP/2; this port speaks cleartext HTTP/2 to clients that know it does (--http2-prior-knowledge).
grpc() { npx buf curl --protocol grpc --http2-prior-knowledge "${auth[@]}" -d "$1" "$method"; }

echo "# create (gRPC, buf curl)"
grpc '{"firmId":"'"$firm"'","trackingId":"CRM-1","email":"ann@example.com","firstName":"Ann","lastName":"Lee","phone":"+1 555 0100"}'

echo "# update by tracking id: title replaced, phone cleared by \"\", the rest kept (gRPC, buf curl)"
grpc '{"firmId":"'"$firm"'","trackingId":"CRM-1","title":"CTO","phone":""}'

# Connect's JSON errors carry each detail's "debug" form: the google.rpc.BadRequest, readable.
echo "# invalid email: HTTP 400, invalid_argument with a google.rpc.BadRequest (Connect JSON, curl)"
curl -sS -X POST "$method" -H 'content-type: application/json' "${auth[@]}" \
  -d '{"firmId":"'"$firm"'","email":"not-an-email"}'
echo

# buf curl exits non-zero on an error status and prints the error; over gRPC a detail is only bytes, over
# Connect it comes decoded too.
echo "# a new tracking id with a taken email: already_exists with a google.rpc.ErrorInfo (Connect, buf curl)"
npx buf curl --protocol connect "${auth[@]}" \
  -d '{"firmId":"'"$firm"'","trackingId":"CRM-2","email":"ANN@example.com","firstName":"Ann","lastName":"Lee"}' \
  "$method" 2>&1 || true

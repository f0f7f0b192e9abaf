#!/usr/bin/env bash
# The rest of the Contact API from the shell, as a nightly CRM sync uses it: gRPC with `buf curl` (schema read
# through the server's reflection) and Connect JSON with plain `curl`, ids and page tokens picked out with `jq`.
# A dry run of a batch with one failing item, the batch with a request id and its retry, get, an incremental
# sync pass with ListContacts, update with an update mask, assign, unassign, delete, a second pass that sees
# those changes and the deletion, and one contact's change history.
# Usage, from the repository (buf comes with its dev dependencies; jq must be installed):
#   examples/shell/crm-sync.sh [URL]
# Environment: CONTACTS_URL (instead of the argument), FIRM_ID (default: a new firm each run, printed first), CONTACTS_TOKEN (an API key).
set -eo pipefail   # no -u: "${auth[@]}" of an empty array is an error under -u in bash 3.2 (macOS)

url=${1:-${CONTACTS_URL:-http://127.0.0.1:8080}}
# A firm of its own per run, so that what earlier runs (or other examples) stored cannot change what this prints.
firm=${FIRM_ID:-example-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')}
echo "firm $firm"
service="$url/contacts.v1.ContactService"
auth=()
if [ -n "${CONTACTS_TOKEN:-}" ]; then auth=(-H "authorization: Bearer $CONTACTS_TOKEN"); fi

# gRPC needs HTTP/2; this port speaks cleartext HTTP/2 to clients that know it does (--http2-prior-knowledge).
# buf curl exits non-zero on an error status, and so does curl --fail-with-body, which stops the script.
grpc() { npx buf curl --protocol grpc --http2-prior-knowledge "${auth[@]}" -d "$2" "$service/$1"; }
connect() {
  curl -sS --fail-with-body -X POST "$service/$1" -H 'content-type: application/json' "${auth[@]}" -d "$2"
}

# The batch a nightly job sends: one result per item, in order; the failing item's "error" is a
# google.rpc.Status, its BadRequest included.
batch_request='{"firmId":"'"$firm"'","requests":[
  {"trackingId":"CRM-1","email":"ann@example.com","firstName":"Ann","lastName":"Lee"},
  {"trackingId":"CRM-2","email":"bob@example.com","firstName":"Bob","lastName":"Ray"},
  {"trackingId":"CRM-3","email":"cy@example.com","firstName":"Cy","lastName":"Day"},
  {"trackingId":"CRM-4","email":"not-an-email","firstName":"Dee","lastName":"Fox"}]}'

# validateOnly answers item by item what the batch would do and writes nothing (a previewed create's id is not
# reserved: the real batch gets other ids).
echo "# dry run: the batch with validateOnly, nothing written (gRPC, buf curl)"
grpc BatchUpsertContacts "$(jq -c '.validateOnly = true' <<<"$batch_request")"

# A request id made of the run and the batch's number (a real job uses its run's date, so a restarted run
# resends the same ids). Sent again with the same id, as after a timeout: if the first attempt committed, the
# stored first answer comes back (same ids, same times) and nothing is written again.
request_id="nightly-$(date -u +%Y-%m-%dT%H:%M:%SZ)-batch-1"
with_id=$(jq -c --arg id "$request_id" '.requestId = $id' <<<"$batch_request")
echo "# batch: four upserts, the fourth with a bad email, with a request id (gRPC, buf curl)"
batch=$(grpc BatchUpsertContacts "$with_id")
echo "$batch"
echo "# retry: the same batch and request id, as after a timeout (gRPC, buf curl)"
retry=$(grpc BatchUpsertContacts "$with_id")
echo "$retry"
# jq compares the parsed answers, so the two texts' layout does not matter.
if ! jq -en --argjson first "$batch" --argjson retry "$retry" '$first == $retry' >/dev/null; then
  echo "the retry's answer differs from the first" >&2
  exit 1
fi
echo "# the retry's answer equals the first: nothing written twice"
ann=$(jq -r '.results[0].response.contact.id' <<<"$batch")
bob=$(jq -r '.results[1].response.contact.id' <<<"$batch")

echo "# get (Connect JSON, curl)"
connect GetContact '{"firmId":"'"$firm"'","id":"'"$ann"'"}'
echo

# One pass of the incremental sync: every page changed after $after ("null": the whole book), deletions
# included. Pages are in (updateTime, id) order, so the last contact of the pass has the largest updateTime:
# keep it in $after for the next pass (save it only once a pass has completed). pageSize 1 makes this small
# book take several pages; a real sync asks for 1000. A page token is bound to updatedAfter and showDeleted.
after=null
sync_pass() {
  local token="" page request largest="$after"
  while :; do
    request=$(jq -nc --arg firm "$firm" --arg token "$token" --argjson after "$after" \
      '{firmId: $firm, pageSize: 1, pageToken: $token, showDeleted: true}
       + (if $after == null then {} else {updatedAfter: $after} end)')
    echo "# list, $1 (Connect JSON, curl)"
    page=$(connect ListContacts "$request")
    echo "$page"
    largest=$(jq -c --argjson largest "$largest" '.contacts[-1].updateTime // $largest' <<<"$page")
    token=$(jq -r '.nextPageToken // ""' <<<"$page")
    [ -n "$token" ] || break
  done
  after=$largest
}
sync_pass "first pass"

# The only RPC that changes an email: exactly the fields in updateMask (in JSON, camelCase joined by commas).
echo "# update the email with an update mask (Connect JSON, curl)"
connect UpdateContact \
  '{"firmId":"'"$firm"'","contact":{"id":"'"$ann"'","email":"ann.lee@example.com"},"updateMask":"email"}'
echo

echo "# assign (gRPC, buf curl)"
grpc AssignContact \
  '{"firmId":"'"$firm"'","contactId":"'"$ann"'","clientIds":["C-1","C-2"],"investmentEntityIds":["E-1"]}'

echo "# unassign (Connect JSON, curl)"
connect UnassignContact \
  '{"firmId":"'"$firm"'","contactId":"'"$ann"'","clientIds":["C-2"],"investmentEntityIds":["E-1"]}'
echo

echo "# delete: an empty answer (gRPC, buf curl)"
grpc DeleteContact '{"firmId":"'"$firm"'","id":"'"$bob"'"}'

# After the first pass's largest updateTime: the changed contact in its latest state, the deleted one with
# deleteTime set, and not the unchanged one (Cy).
sync_pass "next pass"

# Who changed Ann, in which call (its requestId), and each field's old and new value, newest first. Her history
# fits one page (100 by default); a longer one pages with nextPageToken, as ListContacts does.
echo "# history of one contact (Connect JSON, curl)"
connect ListContactChanges '{"firmId":"'"$firm"'","contactId":"'"$ann"'"}'
echo

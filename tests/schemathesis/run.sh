#!/usr/bin/env bash
# Schemathesis against a live embedded server (issue 16): every operation in
# /openapi.json, with a development token and a few seeded resources so the
# checks reach past 404. The report is kept under target/schemathesis/, which
# CI keeps as an artifact. Usage: tests/schemathesis/run.sh [BATCHBOOK_BINARY]
set -euo pipefail
cd "$(dirname "$0")/../.."
binary=${1:-target/debug/batchbook}
reports=target/schemathesis
rm -rf "$reports" && mkdir -p "$reports"
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
# As on AWS, a request without a sign-in is refused.
"$binary" serve --addr "127.0.0.1:$port" --data "$data" --require-sign-in >"$reports/server.log" 2>&1 &
server=$!
# The server checkpoints its event chain as it stops: wait for it, then remove its data.
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 100); do
  curl -sf "$base/openapi.json" >/dev/null && break
  sleep 0.1
done

export SCHEMATHESIS_TOKEN="dev:A12345"
auth="authorization: Bearer $SCHEMATHESIS_TOKEN"
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
post() { curl -sf -H "$auth" -H "content-type: $2" --data-binary "$3" "$base$1"; }

# The seeded resources: a list, a draft batch, a sent questionnaire batch
# (whose first patient's link the patient routes use), a template and an
# attachment, a workspace with two members and a conversation in it.
list='NHS Number,Given Name,Telecom Number,Date of Birth
9990000018,Joe,07700 900018,01/02/1950
9990000026,Aisha,07700 900026,01/02/1950'
export LIST_ID=$(post /v1/lists text/csv "$list" | field "['list_id']")
export BATCH_ID=$(post /v1/batches application/json \
  "{\"name\":\"Flu\",\"list_id\":\"$LIST_ID\",\"message\":\"Dear ((name)), book your flu jab.\"}" | field "['batch_id']")
sent=$(post /v1/batches application/json \
  "{\"name\":\"Smoking\",\"list_id\":\"$LIST_ID\",\"questionnaire\":\"smoking_status\",\"message\":\"Dear ((name)), please answer: ((link))\"}" | field "['batch_id']")
# Sent whatever the hour: the window never closes.
curl -sf -X PUT -H "$auth" -H 'content-type: application/json' "$base/v1/settings" \
  --data '{"flag_mobiles_likely_to_fail":false,"sending_window":{"opens":"00:00","closes":"00:00"}}' >/dev/null
post "/v1/batches/$sent/send" application/json '{"now":true}' >/dev/null
for _ in $(seq 100); do
  TOKEN=$(curl -sf -H "$auth" "$base/v1/dev/sms-outbox" | python3 -c "
import json, sys
bodies = [m['body'] for m in json.load(sys.stdin)]
print(next((b.split('/l/')[1].split()[0] for b in bodies if '/l/' in b), ''))")
  [ -n "$TOKEN" ] && break
  sleep 0.1
done
[ -n "$TOKEN" ] || { echo "schemathesis: the seeded batch sent no link" >&2; exit 1; }
export TOKEN
# The patient's session, so the patient routes are reached past the check.
export SESSION=$(post "/v1/links/$TOKEN/verify" application/json '{"date_of_birth":"1950-02-01"}' | field "['session']")
export TEMPLATE_ID=$(post /v1/templates application/json '{"name":"Flu","body":"Dear ((name))"}' | field "['template_id']")
export ATTACHMENT_ID=$(post '/v1/attachments?file_name=leaflet.pdf' application/pdf $'%PDF-1.4\n%%EOF\n' | field "['attachment_id']")
export WORKSPACE_ID=$(post /v1/workspaces application/json '{"name":"Dermatology"}' | field "['workspace_id']")
curl -sf -X PUT -H "$auth" -H 'content-type: application/json' "$base/v1/workspaces/$WORKSPACE_ID/members/sam" \
  --data '{"name":"Sam"}' >/dev/null
# A conversation in it, started by the signed-in user (a member too).
curl -sf -X PUT -H "$auth" -H 'content-type: application/json' "$base/v1/workspaces/$WORKSPACE_ID/members/dev-user" \
  --data '{"name":"Dev User"}' >/dev/null
export CONVERSATION_ID=$(post /v1/conversations application/json \
  "{\"workspace_id\":\"$WORKSPACE_ID\",\"nhs_number\":\"9990000018\",\"date_of_birth\":\"1950-02-01\",\"channel\":\"sms\",\"body\":\"Hello\",\"allow_reply\":true}" \
  | field "['conversation_id']")

schemathesis --config-file tests/schemathesis/schemathesis.toml run "$base/openapi.json" \
  --url "$base" --report junit,har --report-dir "$reports" | tee "$reports/summary.txt"

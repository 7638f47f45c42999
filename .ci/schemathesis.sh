#!/usr/bin/env bash
# Checks that the OpenAPI document describes what the server does: starts `herald serve` on a
# fresh SQLite database and a free port, then runs schemathesis with every check against
# /api/v1/openapi.json. Exits with schemathesis' status. Called by .ci/run after the tests;
# arguments are passed on to `schemathesis run` (e.g. `--include-path /sms --phases fuzzing`).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
venv=target/schemathesis-venv
if [[ "$("$venv/bin/schemathesis" --version 2>/dev/null || true)" != *"$SCHEMATHESIS_VERSION"* ]]; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build -q --bin herald

work=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
key="schemathesis-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"

# Without a broker, with failures and no retries so that dead letters exist to replay.
env -u HERALD_AMQP_URL -u DATABASE_URL \
  HERALD_DATABASE_URL="sqlite://$work/herald.db" \
  HERALD_LISTEN="127.0.0.1:$port" \
  HERALD_BOOTSTRAP_API_KEY="$key" \
  HERALD_MOCK_PROVIDER__SUCCESS_RATE=0.7 \
  HERALD_DISPATCH__MAX_RETRIES=0 \
  HERALD_LOG=warn \
  target/debug/herald serve >"$work/herald.log" 2>&1 &
herald=$!
cleanup() {
  kill "$herald" 2>/dev/null && wait "$herald" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

deadline=$((SECONDS + 60))
until curl -fsS "$base/health/ready" >/dev/null 2>&1; do
  if ! kill -0 "$herald" 2>/dev/null || ((SECONDS > deadline)); then
    echo "!! herald serve did not become ready; its log:" >&2
    cat "$work/herald.log" >&2
    exit 1
  fi
  sleep 0.2
done

# Customers that campaign sends may name (see .ci/schemathesis_hooks.py).
customers=()
for phone in +254712345678 +254712345679 +31612345678; do
  id=$(curl -fsS -X POST "$base/api/v1/customers" -H "X-API-Key: $key" -H 'Content-Type: application/json' \
    -d "{\"phone\": \"$phone\", \"first_name\": \"Seed\"}" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
  customers+=("$id")
done

# The user and template of the send-by-template example (and what the hooks make sends name) (see .ci/schemathesis_hooks.py).
curl -fsS -X PUT "$base/api/v1/users/12345" -H "X-API-Key: $key" -H 'Content-Type: application/json' \
  -d '{"email": "st@example.com", "phone": "+254712345678", "push_tokens": ["st-device-token"]}' >/dev/null
curl -fsS -X POST "$base/api/v1/templates" -H "X-API-Key: $key" -H 'Content-Type: application/json' \
  -d '{"name": "order_shipped", "type": "email", "subject": "Order {order_id|} shipped", "body": "Order {order_id|} is on its way"}' >/dev/null
# The template generated sends name: no example names it, and writes to its id are left alone.
st_template=$(curl -fsS -X POST "$base/api/v1/templates" -H "X-API-Key: $key" -H 'Content-Type: application/json' \
  -d '{"name": "st_notice", "type": "email", "subject": "Notice", "body": "Hello {name|there}"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')

# From the temporary directory: schemathesis keeps a cache of what it found in its working
# directory, and a run must leave nothing in the repository.
repo=$PWD
status=0
(
  cd "$work"
  HERALD_ST_CUSTOMERS=$(IFS=,; echo "${customers[*]}") \
  HERALD_ST_TEMPLATE="$st_template" \
  HERALD_ST_KEY="$key" \
  SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="$repo/.ci" \
    "$repo/$venv/bin/schemathesis" run "$base/api/v1/openapi.json" \
    --checks all \
    -H "X-API-Key: $key" \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-50}" \
    --request-timeout 10 \
    --generation-database none \
    --no-color \
    "$@"
) || status=$?

if ((status != 0)); then
  echo "!! schemathesis found disagreements between the OpenAPI document and the server (herald's log below)" >&2
  tail -n 50 "$work/herald.log" >&2
fi
exit "$status"

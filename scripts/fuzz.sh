#!/usr/bin/env bash
# API fuzzing from our own OpenAPI document with schemathesis: the server must never answer
# 5xx, every response must match the document, and invalid data must be refused.
# Needs a build (dist/). Installs schemathesis into a cached virtualenv on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
VENV=${FUZZ_VENV:-.ci/cache/schemathesis-venv}
MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-50}
KEY=sk_fuzz_key_0001

if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi

data_dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
DATA_DIR="$data_dir" PORT="$port" HOST=127.0.0.1 API_KEYS="$KEY:biz_fuzz" LOG_LEVEL=error NODE_ENV=production \
  RATE_LIMIT_PER_SECOND=100000 RATE_LIMIT_BURST=100000 node dist/apps/api/src/main.js > "$data_dir/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; rm -rf "$data_dir"' EXIT

for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/health" > /dev/null 2>&1 && break
  sleep 0.2
done

# positive_data_acceptance is left out on purpose: schema-valid requests are refused by business
# rules the schema cannot express (a debit above the balance, an unknown customer id).
"$VENV/bin/st" --config-file scripts/schemathesis.toml run "http://127.0.0.1:$port/openapi.json" \
  -H "Authorization: Bearer $KEY" \
  --checks all --exclude-checks positive_data_acceptance \
  --max-examples "$MAX_EXAMPLES" --workers 2

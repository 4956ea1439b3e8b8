#!/usr/bin/env bash
# Checks the OpenAPI document against the real management API: schemathesis (PyPI) generates requests
# from /api/openapi.json and sends them to a running latchkey with a tenant API key. It fails on any
# 5xx, any status code or content type the document does not list. Usage: api-fuzz.sh LATCHKEY_BIN
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "$1")
VENV=.tools/schemathesis
if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check schemathesis==4.32.5
fi

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export LATCHKEY_DATA_DIR="$work/data" LATCHKEY_PUBLIC_URL="http://127.0.0.1:$port" RUST_LOG=warn
# Amazon cannot be reached from here: its endpoints refuse at once (a closed port), so the operations
# that call Login with Amazon or SMAPI answer their documented 4xx/503 without waiting on timeouts.
export LATCHKEY_LWA_TOKEN_URL="http://127.0.0.1:9/{region}/auth/o2/token" LATCHKEY_SMAPI_URL="http://127.0.0.1:9"
"$BIN" serve --bind "127.0.0.1:$port" > "$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
python3 - "$port" <<'PY'
import sys, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/readyz", timeout=1); break
    except Exception:
        time.sleep(0.1)
PY

"$BIN" tenant create --slug acme --name Acme --json >/dev/null
"$BIN" skill create --tenant acme --name "Acme Smart Home" --alexa-skill-id amzn1.ask.skill.fuzz --vendor-id M2FUZZ --json >/dev/null
"$BIN" user create --tenant acme --email ada@acme.example --password-stdin --json >/dev/null <<< "ada password 123"
key=$("$BIN" apikey create --tenant acme --name fuzz --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
# Every operation's {tenant} is the tenant the key belongs to; other tenants are covered by the e2e suite.
printf '[parameters]\n"path.tenant" = "acme"\n' > "$work/schemathesis.toml"

seed=()
if [ "${CI:-}" = "true" ]; then seed=(--seed 20261125); fi
(cd "$work" && "$OLDPWD/$VENV/bin/schemathesis" run "http://127.0.0.1:$port/api/openapi.json" \
  -H "Authorization: Bearer $key" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance \
  --max-examples 25 --workers 2 "${seed[@]}")
if grep -q " 500 \| panicked" "$work/server.log"; then
  echo "the server logged a 500 or a panic:" >&2; grep " 500 \| panicked" "$work/server.log" >&2; exit 1
fi

#!/usr/bin/env bash
# Endpoint benchmarks: the server pinned to core 0, the load generator to core 1, loopback only.
#   benches/run.sh [embedded|pg] [seconds]      (PROFILE=<scenario> adds a perf profile of it;
#                                               ALG=ES256 or ALG=EdDSA signs the tenant's access tokens and the
#                                               skill's ID tokens with it)
# Prints one JSON line per scenario, plus cold start and memory. Needs python3 (JSON parsing) and taskset.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-embedded}
SECS=${2:-10}
ALG=${ALG:-RS256}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q -p latchkey-server -p latchkey-loadgen
LK=$PWD/target/release/latchkey
GEN=$PWD/target/release/latchkey-loadgen
WORK=$(mktemp -d)
# Rate limits off: the benchmark measures throughput, not them. The per-tenant event backlog bound
# stays checked, as in production, but far above the hundred thousand or so events the runs leave
# waiting: its check (a count of the tenant's waiting rows, about once a second) is part of acceptance.
export LATCHKEY_DATA_DIR=$WORK RUST_LOG=warn LATCHKEY_TOKEN_RATE_PER_CLIENT=0 LATCHKEY_API_RATE_PER_KEY=0 LATCHKEY_PER_IP_LIMITS=off
export LATCHKEY_ALEXA_PENDING_EVENTS_PER_TENANT=${LATCHKEY_ALEXA_PENDING_EVENTS_PER_TENANT:-100000000}
# Every line is also kept, for the summary at the end (each figure beside its ceiling).
exec > >(tee "$WORK/results.jsonl")

# Ceilings on the server's core, measured in this run: what one core can sign and verify (RS256 is
# RSA-2048 with SHA-256; ES256 is ECDSA P-256; EdDSA is Ed25519) and hash (the sign-in's argon2id).
speed() { taskset -c 0 openssl speed -seconds 3 "$1" 2>/dev/null | awk -v name="$2" -v s="$3" \
  '$0 ~ name {printf "{\"ceiling\":\"%s_sign\",\"per_second\":%s}\n{\"ceiling\":\"%s_verify\",\"per_second\":%s}\n", s, $(NF-1), s, $NF}'; }
speed rsa2048 '^rsa 2048 bits' rs256
speed ecdsap256 'nistp256' es256
speed ed25519 'Ed25519' eddsa
taskset -c 0 "$GEN" --scenario argon2id --base x --tenant x --client-id x --client-secret x --seconds 3
# The same operations with the server's own JWS code (aws-lc-rs), which is what bounds it: the summary
# uses these (`openssl speed` above is the system OpenSSL, for comparison).
taskset -c 0 "$GEN" --scenario jws --base x --tenant x --client-id x --client-secret x --seconds 6
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export LATCHKEY_PUBLIC_URL=http://127.0.0.1:$PORT
AMAZON_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export LATCHKEY_LWA_TOKEN_URL=http://127.0.0.1:$AMAZON_PORT/auth/o2/token
export LATCHKEY_ALEXA_EVENT_GATEWAY_URL="http://127.0.0.1:$AMAZON_PORT/{region}/v3/events"
if [ "$MODE" = pg ]; then
  scripts/services.sh
  DB=lkbench_$$
  psql -q -h 127.0.0.1 -U postgres -d test -c "CREATE DATABASE $DB"
  export DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB REDIS_URL=redis://127.0.0.1:6379 LATCHKEY_REDIS_PREFIX="bench$$:"
  # Whether the server vacuums: with autovacuum off (as on some test machines), the outbox's rows are
  # never marked all-visible, so the backlog's once-a-second count fetches every waiting row from the
  # heap (75 ms for 260,000 rows, against 28 ms once vacuumed) and the event figures read worse than
  # a production server's.
  echo "{\"postgres_autovacuum\":\"$(psql -tA -h 127.0.0.1 -U postgres -d test -c 'SHOW autovacuum')\"}"
fi
j() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
$LK tenant create --slug bench --name Bench --signing-alg "$ALG" --json >/dev/null
SKILL=$($LK skill create --tenant bench --name Bench --id-token-alg "$ALG" --alexa-skill-id amzn1.ask.skill.bench --vendor-id M2BENCH --lwa-client-id amzn1.application-oa2-client.bench --lwa-client-secret bench --json)
KEY=$($LK apikey create --tenant bench --name bench --json | j "['key']")
CC=$($LK client create --tenant bench --name cc --grant-types client_credentials --scope "devices" --json)
USER_ID=$(echo 'bench password 1' | $LK user create --tenant bench --email bench@example.com --password-stdin --json | j "['id']")
SID=$(echo "$SKILL" | j "['client_id']"); SSEC=$(echo "$SKILL" | j "['client_secret']"); RED=$(echo "$SKILL" | j "['redirect_uris'][0]")
CID=$(echo "$CC" | j "['client_id']"); CSEC=$(echo "$CC" | j "['client_secret']")

START=$(date +%s.%N)
taskset -c 0 "$LK" serve --bind 127.0.0.1:$PORT 2>"$WORK/server.log" &
SERVER=$!
# The fake Amazon shares core 1 with the load generator.
taskset -c 1 "$GEN" --scenario fake-amazon --base "127.0.0.1:$AMAZON_PORT" --tenant x --client-id x --client-secret x &
FAKE=$!
trap 'kill $SERVER $FAKE 2>/dev/null; wait $SERVER 2>/dev/null; [ "$MODE" = pg ] && psql -q -h 127.0.0.1 -U postgres -d test -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"; rm -rf "$WORK"' EXIT
until curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null; do sleep 0.02; done
READY=$(date +%s.%N)
rss() { awk '/VmRSS/{print $2/1024}' /proc/$SERVER/status; }
echo "{\"mode\":\"$MODE\",\"signing_alg\":\"$ALG\",\"cold_start_to_ready_s\":$(python3 -c "print(round($READY-$START,3))"),\"rss_idle_mb\":$(rss)}"

COMMON=(--base "http://127.0.0.1:$PORT" --tenant bench --seconds "$SECS")
SEED=$(taskset -c 1 "$GEN" --scenario seed "${COMMON[@]}" --client-id "$SID" --client-secret "$SSEC" --redirect-uri "$RED" --email bench@example.com --password 'bench password 1')
AT=$(echo "$SEED" | j "['access_token']"); RT=$(echo "$SEED" | j "['refresh_token']")
# PROFILE=<scenario> (introspect, refresh, …) records where the server's core spends that scenario's
# time with perf, and prints the functions above 1% of its samples after the scenario's line; any other
# text picks the first run whose arguments contain it (PROFILE='--scope profile'). Profiling slows the
# profiled run by about a third: take its rate from a run without PROFILE. Recording starts
# PROFILE_SKIP seconds (3 by default) into the run: a refresh or link run first signs each of its 64
# workers in (argon2id), which is setup, not the path measured.
run() {
  local perf_pid=""
  if [ -n "${PROFILE:-}" ] && [[ "$2 $*" == "$PROFILE "* || "$*" == *"$PROFILE"* ]] && [ -z "${PROFILED:-}" ]; then
    PROFILED=1
    (sleep "${PROFILE_SKIP:-3}"; exec perf record -q -F 1999 -p "$SERVER" -o "$WORK/perf.data" 2>/dev/null) & perf_pid=$!
  fi
  taskset -c 1 "$GEN" "$@" "${COMMON[@]}"
  if [ -n "$perf_pid" ]; then
    # TERM: perf stops and writes its data; a recorder still waiting out PROFILE_SKIP just ends.
    kill -TERM "$perf_pid"; wait "$perf_pid" 2>/dev/null || true
    perf report -i "$WORK/perf.data" --no-children --sort dso,sym --percent-limit 1 --stdio 2>/dev/null \
      | grep -E '^ +[0-9]' | python3 -c 'import json,sys; [print(json.dumps({"profile": sys.argv[1], "line": " ".join(l.split())})) for l in sys.stdin]' "$PROFILE"
  fi
  echo "{\"rss_after_mb\":$(rss)}"
}
run --scenario introspect --client-id "$SID" --client-secret "$SSEC" --token "$AT" --concurrency 64
run --scenario client-credentials --client-id "$CID" --client-secret "$CSEC" --concurrency 64
run --scenario refresh --client-id "$SID" --client-secret "$SSEC" --redirect-uri "$RED" --email bench@example.com --password 'bench password 1' --concurrency 64
# Without openid (as an Alexa smart-home skill asks): no ID token, one signature per refresh.
echo '{"phase":"refresh without openid"}'
run --scenario refresh --client-id "$SID" --client-secret "$SSEC" --redirect-uri "$RED" --email bench@example.com --password 'bench password 1' --concurrency 64 --scope profile
# As a skill backend sees tokens: 10,000 distinct ones (its linked accounts'), each introspected many
# times. Each worker links an account and mints its share by refresh before the run (not timed).
# After the refresh runs: the 10,000 refreshes it takes grow the tables they write.
echo '{"phase":"introspection over 10,000 distinct tokens"}'
run --scenario introspect --client-id "$SID" --client-secret "$SSEC" --redirect-uri "$RED" --email bench@example.com --password 'bench password 1' --scope profile --distinct-tokens 10000 --concurrency 64
run --scenario accept-grant --client-id x --client-secret x --token "$AT" --api-key "$KEY" --concurrency 16
# Acceptance (202 once stored), then how long the outbox takes to deliver what was accepted.
run --scenario event --client-id x --client-secret x --api-key "$KEY" --user "$USER_ID" --skill amzn1.ask.skill.bench --concurrency 64
run --scenario drain --client-id x --client-secret x --api-key "$KEY" --skill amzn1.ask.skill.bench --amazon "127.0.0.1:$AMAZON_PORT"
run --scenario event-wait --client-id x --client-secret x --api-key "$KEY" --user "$USER_ID" --skill amzn1.ask.skill.bench --concurrency 64
# Overhead at concurrency 1: no queueing in the figures.
run --scenario accept-grant --client-id x --client-secret x --token "$AT" --api-key "$KEY" --concurrency 1
run --scenario event --client-id x --client-secret x --api-key "$KEY" --user "$USER_ID" --skill amzn1.ask.skill.bench --concurrency 1
run --scenario drain --client-id x --client-secret x --api-key "$KEY" --skill amzn1.ask.skill.bench --amazon "127.0.0.1:$AMAZON_PORT"
run --scenario event-wait --client-id x --client-secret x --api-key "$KEY" --user "$USER_ID" --skill amzn1.ask.skill.bench --concurrency 1
run --scenario link --client-id "$SID" --client-secret "$SSEC" --redirect-uri "$RED" --email bench@example.com --password 'bench password 1' --concurrency 8
echo "{\"rss_peak_mb\":$(awk '/VmHWM/{print $2/1024}' /proc/$SERVER/status)}"

# Durable events, each half on a core of its own: an instance that only accepts (the outbox worker
# off) takes events at 64 connections, leaving a backlog; then an instance that delivers, alone on the
# core, drains it. deliveries_per_s is the outbox's rate against the fast fake gateway.
restart() {
  kill $SERVER; wait $SERVER 2>/dev/null || true
  LATCHKEY_ALEXA_OUTBOX_WORKER=$1 taskset -c 0 "$LK" serve --bind 127.0.0.1:$PORT 2>>"$WORK/server.log" &
  SERVER=$!
  until curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null; do sleep 0.02; done
}
restart off
echo '{"phase":"accepting only (LATCHKEY_ALEXA_OUTBOX_WORKER=off)"}'
run --scenario event --client-id x --client-secret x --api-key "$KEY" --user "$USER_ID" --skill amzn1.ask.skill.bench --concurrency 64
# Latency at the target rate rather than at saturation: 5,000 events/s offered over 64 connections
# (open loop, each event timed from when it was due). The closed-loop run above answers "how many",
# and its p99 is bound by its own rate (64 connections / events per second).
echo '{"phase":"accepting only, 5,000 events/s offered"}'
# The server's own view of the same requests (its latency histogram, from first byte handled to
# response): with PostgreSQL on these two cores, what the client sees also holds the database's CPU
# bursts on either core (the backlog's once-a-second count, for one), which it would not have on hosts of
# its own.
events_hist() { curl -fs "http://127.0.0.1:$PORT/metrics" | grep 'duration_seconds_bucket{route="/t/{slug}/alexa/events",' || true; }
BEFORE=$(events_hist)
run --scenario event --client-id x --client-secret x --api-key "$KEY" --user "$USER_ID" --skill amzn1.ask.skill.bench --concurrency 64 --rate 5000
python3 - "$BEFORE" "$(events_hist)" <<'PY'
import json, re, sys
def buckets(text):
    return {m.group(1): float(m.group(2)) for m in re.finditer(r'le="([^"]+)"\} (\S+)', text)}
before, after = buckets(sys.argv[1]), buckets(sys.argv[2])
n = after.get("+Inf", 0) - before.get("+Inf", 0)
if n:
    share = {f"share_within_{int(float(le) * 1000)}ms": round((after[le] - before.get(le, 0)) / n, 4)
             for le in ("0.005", "0.01", "0.025", "0.05") if le in after}
    print(json.dumps({"server_side": "events, 5,000/s offered", "requests": int(n), **share}))
PY
restart on
echo '{"phase":"delivering only"}'
run --scenario drain --client-id x --client-secret x --api-key "$KEY" --skill amzn1.ask.skill.bench --amazon "127.0.0.1:$AMAZON_PORT"
# The same against a gateway that takes 50 ms to answer, as Amazon's does from another network: the
# outbox's rate is then bound by how many deliveries it keeps in flight, not by the core.
restart off
echo '{"phase":"accepting only, for a gateway 50 ms away"}'
run --scenario event --client-id x --client-secret x --api-key "$KEY" --user "$USER_ID" --skill amzn1.ask.skill.bench --concurrency 64
kill $FAKE; wait $FAKE 2>/dev/null || true
taskset -c 1 "$GEN" --scenario fake-amazon --base "127.0.0.1:$AMAZON_PORT" --tenant x --client-id x --client-secret x --gateway-latency-ms 50 &
FAKE=$!
until curl -fs "http://127.0.0.1:$AMAZON_PORT/stats" >/dev/null; do sleep 0.02; done
restart on
echo '{"phase":"delivering only, gateway 50 ms away"}'
run --scenario drain --client-id x --client-secret x --api-key "$KEY" --skill amzn1.ask.skill.bench --amazon "127.0.0.1:$AMAZON_PORT"

# Each figure beside the ceiling that bounds it, measured above in this run.
python3 - "$WORK/results.jsonl" "$(echo "$ALG" | tr 'A-Z' 'a-z')" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
ceil = {r["ceiling"]: r["per_second"] for r in rows if "ceiling" in r}
alg = sys.argv[2]
bound = {"Refresh": alg + "_sign_lib", "ClientCredentials": alg + "_sign_lib", "Introspect": alg + "_verify_lib", "Link": "argon2id"}
print(json.dumps({"summary": "figure / ceiling (one core)"}))
for r in rows:
    c = bound.get(r.get("scenario", ""))
    if c and c in ceil:
        if r.get("distinct_tokens", 1) > 1:
            label = f' ({r["distinct_tokens"]:,} tokens)'
        else:
            label = " (no openid)" if r.get("scope") == "profile" else ""
        print(json.dumps({"scenario": r["scenario"] + label, "concurrency": r["concurrency"], "per_second": r["per_second"],
                          "p99_ms": r["p99_ms"], "ceiling": c, "ceiling_per_second": ceil[c],
                          "ratio": round(r["per_second"] / ceil[c], 3)}))
PY

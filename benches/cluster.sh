#!/usr/bin/env bash
# Scale-out benchmark: N latchkey instances on one PostgreSQL + Redis, the load generator spreading
# every request round-robin over them (as a load balancer would; each step of a linking flow lands on
# the next instance). Runs the full linking flow and the refresh grant.
#   benches/cluster.sh [instances] [seconds]
# On a 2-core machine every instance shares core 0 (the generator has core 1): the figures show the
# cost of spreading over instances, not scaling. Needs python3 and taskset.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-3}
SECS=${2:-10}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q -p latchkey-server -p latchkey-loadgen
scripts/services.sh
LK=$PWD/target/release/latchkey
GEN=$PWD/target/release/latchkey-loadgen
WORK=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DB=lkcluster_$$
psql -q -h 127.0.0.1 -U postgres -d test -c "CREATE DATABASE $DB"
export LATCHKEY_DATA_DIR=$WORK RUST_LOG=warn LATCHKEY_TOKEN_RATE_PER_CLIENT=0 LATCHKEY_API_RATE_PER_KEY=0 LATCHKEY_PER_IP_LIMITS=off
export DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB REDIS_URL=redis://127.0.0.1:6379 LATCHKEY_REDIS_PREFIX="cluster$$:"
export LATCHKEY_MASTER_KEY=$(python3 -c 'import os,base64; print(base64.b64encode(os.urandom(32)).decode())')
# One public URL for all, as behind one load balancer.
export LATCHKEY_PUBLIC_URL=http://127.0.0.1:$(free_port)
j() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
$LK tenant create --slug bench --name Bench --json >/dev/null
SKILL=$($LK skill create --tenant bench --name Bench --alexa-skill-id amzn1.ask.skill.bench --vendor-id M2BENCH --json)
echo 'bench password 1' | $LK user create --tenant bench --email bench@example.com --password-stdin --json >/dev/null
SID=$(echo "$SKILL" | j "['client_id']"); SSEC=$(echo "$SKILL" | j "['client_secret']"); RED=$(echo "$SKILL" | j "['redirect_uris'][0]")

PIDS=()
BASES=()
cleanup() {
  kill "${PIDS[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  psql -q -h 127.0.0.1 -U postgres -d test -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
  rm -rf "$WORK"
}
trap cleanup EXIT
for i in $(seq 1 "$N"); do
  P=$(free_port)
  taskset -c 0 "$LK" serve --bind 127.0.0.1:$P 2>"$WORK/server$i.log" &
  PIDS+=($!)
  BASES+=("http://127.0.0.1:$P")
  until curl -fs "http://127.0.0.1:$P/readyz" >/dev/null; do sleep 0.05; done
done
ALL=$(IFS=,; echo "${BASES[*]}")
COMMON=(--base "$ALL" --tenant bench --seconds "$SECS" --client-id "$SID" --client-secret "$SSEC" --redirect-uri "$RED" --email bench@example.com --password 'bench password 1')
tag() { python3 -c "import json,sys; d=json.loads(sys.stdin.read()); d['instances']=$N; print(json.dumps(d))"; }
taskset -c 1 "$GEN" --scenario link --concurrency 8 "${COMMON[@]}" | tag
taskset -c 1 "$GEN" --scenario refresh --concurrency 64 "${COMMON[@]}" | tag
for pid in "${PIDS[@]}"; do echo "{\"instance_rss_mb\":$(awk '/VmRSS/{print $2/1024}' /proc/$pid/status)}"; done
# What the run left behind, for the capacity estimate: rows and bytes (table + indexes) per table, and
# the Redis keys under this run's prefix.
for T in linked_accounts refresh_families refresh_tokens end_users audit_events; do
  psql -q -h 127.0.0.1 -U postgres -d "$DB" -At -c \
    "SELECT json_build_object('table', '$T', 'rows', (SELECT count(*) FROM $T), 'bytes', pg_total_relation_size('$T'))"
done
KEYS=$(redis-cli -h 127.0.0.1 --scan --pattern "cluster$$:*" | wc -l)
echo "{\"redis_keys\":$KEYS,\"redis_used_memory_bytes\":$(redis-cli -h 127.0.0.1 info memory | awk -F: '/^used_memory:/{print $2+0}')}"

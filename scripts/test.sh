#!/usr/bin/env bash
# Sets up everything the test suite needs and runs all of it:
# unit and property tests, the end-to-end suite (real server on random ports) on SQLite + in-memory KV
# and on PostgreSQL + Redis, and the browser tests in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh

# Formatting and lints first: they fail in seconds, before the long build.
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
# Dependency gates: licences, bans, sources and RustSec advisories (deny.toml).
scripts/deny.sh

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
# Debian's Chromium for the browser tests (npm's Playwright browsers cannot be downloaded here),
# and Node.js to drive it with playwright-core.
# Only what is missing: a machine whose Node.js came with its own npm must not get Debian's npm too
# (the two packages conflict).
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

# Tests create their own databases as this role (trust auth on loopback).
export LATCHKEY_TEST_PG_URL="${LATCHKEY_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
export LATCHKEY_TEST_REDIS_URL="${LATCHKEY_TEST_REDIS_URL:-redis://127.0.0.1:6379}"

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi

scripts/validate-infra.sh

# The OpenAPI document against the real management API (schemathesis: no 5xx, only documented
# status codes and content types). The binary is the one the e2e tests built.
scripts/api-fuzz.sh target/debug/latchkey

# The dashboard's browser bundle; the binary is the one the e2e tests above already built.
scripts/build-dashboard.sh
(cd tests/browser && LATCHKEY_BIN="$PWD/../../target/debug/latchkey" node --test)

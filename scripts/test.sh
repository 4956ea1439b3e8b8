#!/usr/bin/env bash
# Sets up everything the test suite needs and runs all of it:
# unit and property tests, and the end-to-end suite (real server on random ports) on SQLite + in-memory
# KV and on PostgreSQL + Redis.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh

# Tests create their own databases as this role (trust auth on loopback).
export LATCHKEY_TEST_PG_URL="${LATCHKEY_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
export LATCHKEY_TEST_REDIS_URL="${LATCHKEY_TEST_REDIS_URL:-redis://127.0.0.1:6379}"

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi

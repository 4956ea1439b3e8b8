#!/usr/bin/env bash
# Builds and runs Latchkey on the embedded default: SQLite and an in-memory KV store in ./latchkey-data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-dashboard.sh
cargo build --release --bin latchkey
exec ./target/release/latchkey serve "$@"

#!/usr/bin/env bash
# Dependency gates (deny.toml): licences, bans and sources, then RustSec advisories. The advisory
# database is fetched live; where it cannot be (these build machines reach no GitHub), the snapshot in
# ../shared/advisory-db is used when it exists, and the output says so and how old it is.
set -euo pipefail
cd "$(dirname "$0")/.."

DENY_VERSION=0.20.2
if ! cargo deny --version 2>/dev/null | grep -qx "cargo-deny $DENY_VERSION"; then
  cargo install cargo-deny --locked --version "$DENY_VERSION"
fi

# Every target's crates (the graph includes wasm32 and aarch64), so the checks themselves run offline.
cargo fetch --locked --quiet
cargo deny --offline check bans licenses sources

db_path="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs"
# The folder cargo-deny 0.20 derives from the default database URL.
db_dir="$db_path/advisory-db-3157b0e258782691"
# The snapshot: where LATCHKEY_ADVISORY_DB_BUNDLE says, else beside this checkout, else beside the
# repository this one was cloned from (a CI clone of a local checkout).
snapshot="${LATCHKEY_ADVISORY_DB_BUNDLE:-}"
if [ -z "$snapshot" ]; then
  origin=$(git config --get remote.origin.url 2>/dev/null || true)
  for candidate in ../shared/advisory-db/advisory-db.bundle \
    ${origin:+"$(dirname "$origin")/shared/advisory-db/advisory-db.bundle"}; do
    if [ -f "$candidate" ]; then snapshot=$candidate; break; fi
  done
  snapshot=${snapshot:-../shared/advisory-db/advisory-db.bundle}
fi

# Start from nothing: with a database already on disk, a failed fetch still exits 0 and would pass an
# old copy off as the live database.
rm -rf "$db_dir"
if cargo deny fetch db >/dev/null 2>&1 && [ -d "$db_dir" ]; then
  echo "deny: advisories checked against the live RustSec database"
  cargo deny --offline check advisories
elif [ -f "$snapshot" ]; then
  mkdir -p "$db_path"
  git -c init.defaultBranch=main clone -q -b main "$snapshot" "$db_dir"
  echo "deny: the RustSec database cannot be fetched; advisories checked against the snapshot $snapshot" \
    "(published $(git -C "$db_dir" log -1 --format=%cs)). Accepted advisories are listed with their reasons in deny.toml."
  cargo deny --offline check advisories
else
  echo "deny: WARNING: advisories NOT checked: the RustSec database cannot be fetched and there is no" \
    "snapshot at $snapshot (set LATCHKEY_ADVISORY_DB_BUNDLE to a git bundle of rustsec/advisory-db)." >&2
fi

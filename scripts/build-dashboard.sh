#!/usr/bin/env bash
# Builds the dashboard's browser half: the Leptos app compiled to WebAssembly with the `hydrate`
# feature, then wasm-bindgen's JS glue, into target/site/pkg (served under /admin/pkg).
# The server renders every page without it; this only adds hydration.
set -euo pipefail
cd "$(dirname "$0")/.."

# Must equal the wasm-bindgen crate version pinned in frontend/Cargo.toml (and Cargo.lock).
WB_VERSION=0.2.130
TOOLS="$PWD/.tools"
WB="$TOOLS/bin/wasm-bindgen"

if ! rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
  rustup target add wasm32-unknown-unknown
fi

if ! { [ -x "$WB" ] && "$WB" --version | grep -q " $WB_VERSION\$"; }; then
  # `cargo install --locked` of this version fails: its lockfile names a webpki-roots release the
  # registry no longer has. Build it from the fetched source with that one crate stepped back.
  src="$TOOLS/src/wasm-bindgen-cli-$WB_VERSION"
  if [ ! -d "$src" ]; then
    mkdir -p "$TOOLS/src"
    # A plain `cargo install` downloads the .crate into cargo's cache before it fails; unpack that.
    cargo install wasm-bindgen-cli --version "$WB_VERSION" --locked --root "$TOOLS" -q 2>/dev/null || true
    crate=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"wasm-bindgen-cli-$WB_VERSION.crate" | head -n1)
    tar xzf "$crate" -C "$TOOLS/src"
  fi
  (cd "$src" && cargo update -p webpki-roots --precise 1.0.10 -q && \
    CARGO_TARGET_DIR="$TOOLS/target" cargo install --path . --locked --root "$TOOLS" -q)
  rm -rf "$TOOLS/target"
fi

cargo rustc -p latchkey-frontend --lib --crate-type cdylib --target wasm32-unknown-unknown \
  --no-default-features --features hydrate --profile wasm-release
mkdir -p target/site/pkg
"$WB" --target web --out-dir target/site/pkg --out-name latchkey_dashboard --no-typescript \
  target/wasm32-unknown-unknown/wasm-release/latchkey_frontend.wasm
# Size: wasm-opt from npm's binaryen 132 (Debian's binaryen 108 produces a module that fails to hydrate,
# see TOOLCHAIN.md). Skipped, with a note, where npm is missing: the bundle works unoptimised.
if command -v npm >/dev/null 2>&1; then
  OPT="$TOOLS/npm/node_modules/.bin/wasm-opt"
  if [ ! -x "$OPT" ]; then
    mkdir -p "$TOOLS/npm"
    npm install --no-audit --no-fund --loglevel=error --prefix "$TOOLS/npm" binaryen@132.0.0 >/dev/null
  fi
  "$OPT" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
    --enable-reference-types --enable-multivalue \
    -o target/site/pkg/latchkey_dashboard_bg.wasm.opt target/site/pkg/latchkey_dashboard_bg.wasm
  mv target/site/pkg/latchkey_dashboard_bg.wasm.opt target/site/pkg/latchkey_dashboard_bg.wasm
else
  echo "note: npm not found; the dashboard's wasm is not size-optimised" >&2
fi
ls -l target/site/pkg

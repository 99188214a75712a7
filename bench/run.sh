#!/usr/bin/env bash
# `npm run bench`: installs the reference registry (Debian's docker-registry) and skopeo if
# missing, builds, and runs the side-by-side benchmark. BENCH_QUICK=1 for a smoke run;
# BENCH_ENTRY=gc runs bench/gc.ts (`npm run bench:gc`) instead of bench/main.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
# The Node.js that npm ci installs beside Berth (optionalDependencies node-linux-*) first, as npm
# puts it for its own scripts: run directly or through npm, this uses the same runtime.
export PATH="$PWD/node_modules/.bin:$PATH"
missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q >/dev/null
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -d node_modules ] || npm ci
npx tsc -p .
node scripts/build-native.mjs
exec node "dist/bench/${BENCH_ENTRY:-main}.js" "$@"

#!/usr/bin/env bash
# What `npm run lint` runs: Biome (biome.jsonc) checks the lint rules and the formatting of every
# file git tracks, and writes nothing. Any finding fails, whatever its level: `--error-on-warnings`
# covers warnings, and the summary's info count covers the rules Biome reports as "info".
# `npm run format` rewrites the formatting; `npx biome check --write .` also applies safe fixes.
set -uo pipefail
cd "$(dirname "$0")/.."

out=$(npx biome ci --error-on-warnings --colors=off . 2>&1)
status=$?
printf '%s\n' "$out"
if [ $status -eq 0 ] && grep -qE '^Found [0-9]+ infos?\.' <<<"$out"; then
  echo "lint: Biome reported info-level findings (above); fix them too" >&2
  status=1
fi
# The console (console/, TSX for the browser) has its own tsconfig; the root build leaves it out.
npx tsc -p console/tsconfig.json || status=1
exit $status

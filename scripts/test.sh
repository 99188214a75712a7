#!/usr/bin/env bash
# What `npm test` runs: installs the system tools the e2e tests need, builds, and runs every
# compiled test file with Node's built-in runner. `scripts/test.sh <pattern>` runs only the test
# files whose path contains <pattern> (a grep -E regular expression), e.g. `scripts/test.sh skopeo`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh
[ -d node_modules ] || npm ci
npx tsc -p .

# Node 20's runner does not expand globs, so the files are listed explicitly. A compiled test
# whose .ts source is gone (renamed, deleted) is stale output in dist/ and is not run.
files=()
while IFS= read -r f; do
  src="${f#dist/}"
  if [ -f "${src%.js}.ts" ]; then files+=("$f"); fi
done < <(find dist -name '*.test.js' | sort)
pattern="${1:-}"
if [ -n "$pattern" ]; then
  mapfile -t files < <(printf '%s\n' "${files[@]}" | grep -E -- "$pattern" || true)
fi
if [ ${#files[@]} -eq 0 ]; then
  echo "test.sh: no test files found${pattern:+ matching '$pattern'}" >&2
  exit 1
fi

exec node --test --test-concurrency=2 "${files[@]}"

#!/usr/bin/env bash
# What `npm test` runs: installs the system tools the e2e tests need, lints (scripts/lint.sh),
# builds, and runs every compiled test file with Node's built-in runner. `scripts/test.sh <pattern>`
# runs only the test files whose path contains <pattern> (a grep -E regular expression), e.g.
# `scripts/test.sh skopeo`, and skips the lint.
set -euo pipefail
cd "$(dirname "$0")/.."
# The Node.js that npm ci installs beside Berth (optionalDependencies node-linux-*) first, as npm
# puts it for its own scripts: run directly or through npm, this uses the same runtime.
export PATH="$PWD/node_modules/.bin:$PATH"

bash scripts/install-test-deps.sh
[ -d node_modules ] || npm ci
# The whole suite (no pattern, as `npm test` and .ci/run call it) starts with the lint and format
# check: a few seconds, and it fails before the minutes of tests do.
[ -n "${1:-}" ] || bash scripts/lint.sh
npx tsc -p .
# The native AES-GCM opener (optional: without a compiler it says so and Berth uses Node's crypto).
node scripts/build-native.mjs
# The web console's bundle (dist/console), which the server serves and test/console drives.
node scripts/build-console.mjs

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

# One S3 server (Ceph RGW, scripts/s3-test-server.sh) for every test file, started here so that
# test files running side by side never stop it under each other. BERTH_S3_TEST_ENDPOINT set by
# the caller points the tests at another S3 instead. Its cluster lives in a directory of this
# checkout's own (BERTH_S3_TEST_DIR, unless the caller names one): runs in two checkouts at once
# (a CI clone and a worktree) each start and stop their own, and neither stops the other's under it.
[ -n "${BERTH_S3_TEST_DIR:-}" ] || export BERTH_S3_TEST_DIR="${TMPDIR:-/tmp}/berth-s3-test-$(pwd -P | sha256sum | cut -c1-12)"
started_s3=
if [ -z "${BERTH_S3_TEST_ENDPOINT:-}" ] && printf '%s\n' "${files[@]}" | grep -q -E 's3|e2e/(multi-node|archive|replication)'; then
  if s3env=$(bash scripts/s3-test-server.sh start); then
    while IFS='=' read -r k v; do
      case "$k" in BERTH_S3_TEST_*) export "$k=$v" ;; esac
    done <<<"$s3env"
    started_s3=1
  else
    echo "test.sh: the S3 test server did not start; the S3 tests will say why" >&2
  fi
fi
# The AWS CLI is run hundreds of times. Behind pyenv's shim (a bash script that runs `pyenv exec`)
# each call costs ~1.5 s of CPU instead of ~0.9 s: the tests run the same CLI, found directly.
aws_bin=
if real_aws=$(pyenv which aws 2>/dev/null) && [ -x "$real_aws" ]; then
  aws_bin=$(mktemp -d)
  ln -s "$real_aws" "$aws_bin/aws"
  export PATH="$aws_bin:$PATH"
fi
# Every Node process of the run (test files, Berth servers, `berth` commands: several hundred
# starts) keeps V8's compiled code of the modules it loads in one cache and the next start reuses
# it: about a third of the CPU of a `berth admin` command, a sixth of a start that loads the AWS
# SDKs. The same code runs; a cache entry is keyed by the module's source and Node's version.
compile_cache=$(mktemp -d)
export NODE_COMPILE_CACHE="$compile_cache"
# Test files run side by side, each in its own process. Most of a file's time is waiting (servers
# starting, the AWS CLI, skopeo, daemons, timers), so on 2 cores three at a time keep the CPU busier
# than two. BERTH_TEST_CONCURRENCY changes it (1 runs one file at a time).
concurrency="${BERTH_TEST_CONCURRENCY:-3}"
status=0
node --test --test-concurrency="$concurrency" "${files[@]}" || status=$?
[ -z "$started_s3" ] || bash scripts/s3-test-server.sh stop >/dev/null 2>&1 || true
[ -z "$aws_bin" ] || rm -rf "$aws_bin"
rm -rf "$compile_cache"
exit $status

#!/usr/bin/env bash
# A throwaway PostgreSQL for tests: its own cluster in a directory, on a free loopback port,
# with durability switched off (fsync=off: a crash only loses a test database). Idempotent.
#
#   scripts/postgres-test.sh start [DIR]   prints the connection URL (postgres://...) on stdout
#   scripts/postgres-test.sh url   [DIR]   prints the URL of the running cluster in DIR
#   scripts/postgres-test.sh stop  [DIR]   stops the cluster and removes DIR
#
# DIR defaults to $TMPDIR/berth-pg-<uid>. The binaries come from $BERTH_PG_BIN, else the newest
# /usr/lib/postgresql/<version>/bin (Debian), else `pg_config --bindir`. Exit status 3 means no
# PostgreSQL is installed (callers may skip, loudly); anything else non-zero is a real failure.
# PostgreSQL refuses to run as root: as root the cluster runs as the `postgres` user when it
# exists, else `nobody` (no user is created); as any other user it runs as that user.
set -euo pipefail

cmd="${1:-}"
dir="${2:-${TMPDIR:-/tmp}/berth-pg-$(id -u)}"
case "$cmd" in start | stop | url) ;; *)
  echo "usage: $0 start|stop|url [DIR]" >&2
  exit 2
  ;;
esac

find_bin() {
  if [ -n "${BERTH_PG_BIN:-}" ] && [ -x "$BERTH_PG_BIN/pg_ctl" ]; then echo "$BERTH_PG_BIN"; return; fi
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return; fi
  done
  if command -v pg_config >/dev/null 2>&1; then
    d="$(pg_config --bindir)"
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return; fi
  fi
  return 1
}

# Runs a server-side command as the cluster's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$owner" -- "$@"; else "$@"; fi
}

if [ "$(id -u)" -eq 0 ]; then
  if id postgres >/dev/null 2>&1; then owner=postgres; else owner=nobody; fi
else
  owner="$(id -un)"
fi

running() {
  [ -f "$dir/url" ] && [ -d "$dir/data" ] && as_owner "$bin/pg_ctl" status -D "$dir/data" >/dev/null 2>&1
}

if ! bin="$(find_bin)"; then
  echo "postgres-test: PostgreSQL server binaries not found (looked in \$BERTH_PG_BIN, /usr/lib/postgresql/*/bin, pg_config)" >&2
  exit 3
fi

case "$cmd" in
url)
  if running; then cat "$dir/url"; else
    echo "postgres-test: no cluster running in $dir" >&2
    exit 1
  fi
  ;;
stop)
  if [ -d "$dir/data" ]; then
    # immediate: no checkpoint, nothing here is worth keeping.
    as_owner "$bin/pg_ctl" stop -D "$dir/data" -m immediate -w >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  ;;
start)
  if running; then cat "$dir/url"; exit 0; fi
  # A leftover from a killed run (no server behind it): start from scratch.
  if [ -d "$dir/data" ]; then as_owner "$bin/pg_ctl" stop -D "$dir/data" -m immediate >/dev/null 2>&1 || true; fi
  rm -rf "$dir/data" "$dir/url"
  mkdir -p "$dir"
  chmod 700 "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    chown "$owner" "$dir"
    if ! as_owner test -x "$dir"; then
      echo "postgres-test: user $owner cannot reach $dir (a parent directory is private); choose a DIR under /tmp" >&2
      exit 1
    fi
  fi
  # C locale: byte-order collation and no dependency on the machine's locales. The store does
  # not rely on it (it adds COLLATE "C" where order matters on other collations; a test covers that).
  if ! as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync --encoding=UTF8 --locale=C \
    >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    echo "postgres-test: initdb failed (output above)" >&2
    exit 1
  fi
  started=""
  for _ in 1 2 3 4 5; do
    # A random port nobody answers on; pg_ctl fails if another process takes it first, and we retry.
    port=$((20000 + RANDOM % 40000))
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
    if as_owner "$bin/pg_ctl" start -D "$dir/data" -l "$dir/server.log" -w -t 30 -o \
      "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      >/dev/null 2>&1; then
      started=yes
      break
    fi
  done
  if [ -z "$started" ]; then
    cat "$dir/server.log" >&2 2>/dev/null || true
    echo "postgres-test: the server did not start (log above)" >&2
    exit 1
  fi
  # Over TCP as the superuser (trust auth on loopback only), so the caller's uid does not matter.
  if ! "$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c "CREATE DATABASE berth_test TEMPLATE template0" >/dev/null 2>"$dir/createdb.log"; then
    cat "$dir/createdb.log" >&2
    echo "postgres-test: could not create the test database" >&2
    exit 1
  fi
  echo "postgres://postgres@127.0.0.1:$port/berth_test" >"$dir/url"
  cat "$dir/url"
  ;;
esac

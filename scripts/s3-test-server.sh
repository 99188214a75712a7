#!/usr/bin/env bash
# A real S3 server for the s3 blob-store tests: Ceph's RADOS Gateway from Debian's packages, on a
# throw-away single-node cluster (one mon, one memstore OSD, no mgr, no cephx) on loopback.
#
#   scripts/s3-test-server.sh start   installs the packages if missing, starts the cluster on free
#                                     loopback ports, creates a user and a bucket, prints the
#                                     endpoint as KEY=value lines (also in $dir/env); a no-op that
#                                     prints the same lines when it is already running
#   scripts/s3-test-server.sh stop    stops the daemons it started (by their pid files), removes $dir
#   scripts/s3-test-server.sh env     prints the KEY=value lines of the running server, or fails
#   scripts/s3-test-server.sh install only installs the packages
#
# $BERTH_S3_TEST_DIR (default ${TMPDIR:-/tmp}/berth-s3-test) holds the cluster. A cold start takes
# ~15 s after the packages are installed (~30 s, ~50 MB of .debs).
#
# Why RGW on memstore: RGW is one of the S3 servers Berth targets, and it runs the same S3 code
# (multipart, UploadPartCopy, conditional GETs, presigning, error codes) whatever object store
# sits under RADOS. It is also stricter than AWS in ways worth testing against: it ignores
# x-amz-copy-source-if-match, and does not accept the SDK's default CRC32 checksum trailers. Debian bookworm ships Ceph 16 (pacific), whose RGW has no dbstore backend, so
# a RADOS cluster is needed; memstore keeps it in RAM (capped below), which is all a test needs,
# and avoids formatting a bluestore device. Not tested this way: anything AWS-only (SSE-KMS
# ETags, bucket policies, SSE-S3, which pacific ignores), and virtual-host addressing (the tests
# use path style). SSE-KMS works, with two keys of RGW's 'testing' KMS backend (BERTH_S3_TEST_KMS_KEYS).
set -euo pipefail

cmd="${1:-start}"
dir="${BERTH_S3_TEST_DIR:-${TMPDIR:-/tmp}/berth-s3-test}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
bucket=berth-test
access_key=berth-test-access
secret_key=berth-test-secret

die() { echo "s3-test-server: $*" >&2; exit 1; }

install_packages() {
  local missing=() c
  for c in radosgw ceph-mon ceph-osd; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and apt-get is not available"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "missing ${missing[*]}; need root or sudo to install them"
    sudo=(sudo)
  fi
  local log
  log=$(mktemp)
  if ! { "${sudo[@]}" apt-get update -q &&
         "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
           radosgw ceph-mon ceph-osd; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    die "failed to install the Ceph packages (output above)"
  fi
  rm -f "$log"
}

# A pid file left by a crashed run may name a pid since reused: only a process started with this
# cluster's ceph.conf counts as ours.
alive() {
  local pid
  [ -f "$1" ] && pid=$(cat "$1") && [ -r "/proc/$pid/cmdline" ] &&
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$dir/ceph.conf"
}

running() {
  [ -f "$dir/env" ] && alive "$dir/run/mon.a.pid" && alive "$dir/run/osd.0.pid" && alive "$dir/run/client.rgw.pid"
}

stop_daemons() {
  local f pid i
  # Reverse start order, each waited for, so the OSD never outlives its monitor by much.
  for f in "$dir/run/client.rgw.pid" "$dir/run/osd.0.pid" "$dir/run/mon.a.pid"; do
    alive "$f" || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if alive "$f"; then kill -9 "$pid" 2>/dev/null || true; fi
  done
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

start_cluster() {
  local mon_port rgw_port fsid osd_uuid conf="$dir/ceph.conf"
  mon_port=$(free_port)
  rgw_port=$(free_port)
  fsid=$(cat /proc/sys/kernel/random/uuid)
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  mkdir -p "$dir/run" "$dir/log" "$dir/mon" "$dir/osd"
  # No cephx: every daemon is on loopback and dies with the test run. Without cephx, msgr2 must
  # be allowed its crc mode or daemons refuse to talk to the monitor (EACCES while "hunting").
  cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms client mode = crc
ms bind ipv6 = false
public network = 127.0.0.0/8
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
osd objectstore = memstore
memstore device bytes = 4294967296
osd crush chooseleaf type = 0
# Ceph's default debug levels format and keep in memory (the "/5" gather level) messages no test
# reads: ~18 % of the daemons' CPU per request here. RGW's level 1 still logs every request.
debug rgw = 1/1
debug ms = 0/0
debug osd = 0/0
debug memstore = 0/0
debug objclass = 0/0
debug rados = 0/0
debug objecter = 0/0
debug monc = 0/0
debug auth = 0/0
debug finisher = 0/0
debug mon = 0/0
debug paxos = 0/0
run dir = $dir/run
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
log file = $dir/log/\$name.log
keyring = $dir/keyring
[mon.a]
mon data = $dir/mon
[osd.0]
osd data = $dir/osd
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw data = $dir/rgw
# SSE-KMS for the encryption tests: RGW's 'testing' KMS backend, keys named in this file. SSE on
# plain HTTP is refused unless allowed (loopback only). Pacific has no SSE-S3: it ignores AES256.
rgw crypt require ssl = false
rgw crypt s3 kms backend = testing
rgw crypt s3 kms encryption keys = berth-test-kms-1=$(head -c 32 /dev/urandom | base64) berth-test-kms-2=$(head -c 32 /dev/urandom | base64)
EOF
  monmaptool --create --add a "v2:127.0.0.1:$mon_port" --fsid "$fsid" "$dir/monmap" >/dev/null
  ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" >/dev/null
  # 9>&-: the daemons must not inherit the lock's descriptor, or it is never released.
  ceph-mon -c "$conf" -i a 9>&-
  timeout 60 ceph -c "$conf" osd new "$osd_uuid" >/dev/null
  ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >"$dir/log/osd-mkfs.log" 2>&1
  ceph-osd -c "$conf" -i 0 >/dev/null 2>&1 9>&-
  # radosgw blocks on the monitor for up to 5 minutes by default; fail fast instead.
  radosgw -c "$conf" -n client.rgw --client-mount-timeout 60 9>&-
  local i endpoint="http://127.0.0.1:$rgw_port"
  for i in $(seq 1 120); do
    curl_ok "$endpoint" && break
    alive "$dir/run/client.rgw.pid" || [ "$i" -lt 10 ] || die "radosgw exited; see $dir/log/client.rgw.log"
    sleep 0.5
  done
  curl_ok "$endpoint" || die "radosgw did not answer on $endpoint within 60 s; see $dir/log/"
  radosgw-admin -c "$conf" user create --uid=berth-test --display-name=berth-test \
    --access-key="$access_key" --secret-key="$secret_key" >/dev/null
  printf 'BERTH_S3_TEST_ENDPOINT=%s\nBERTH_S3_TEST_REGION=us-east-1\nBERTH_S3_TEST_BUCKET=%s\nBERTH_S3_TEST_ACCESS_KEY_ID=%s\nBERTH_S3_TEST_SECRET_ACCESS_KEY=%s\nBERTH_S3_TEST_KMS_KEYS=berth-test-kms-1,berth-test-kms-2\n' \
    "$endpoint" "$bucket" "$access_key" "$secret_key" >"$dir/env.tmp"
  create_bucket "$endpoint"
  mv "$dir/env.tmp" "$dir/env"
}

# No curl on a minimal Debian; node is there (the project needs it).
curl_ok() {
  node -e 'fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))' "$1"
}

create_bucket() {
  (cd "$repo" && node --no-warnings --input-type=module -e '
    import { S3Client, CreateBucketCommand } from "@aws-sdk/client-s3";
    const [endpoint, Bucket, accessKeyId, secretAccessKey] = process.argv.slice(1);
    const s3 = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
    try { await s3.send(new CreateBucketCommand({ Bucket })); }
    catch (e) { if (e.name !== "BucketAlreadyOwnedByYou") throw e; }
  ' "$1" "$bucket" "$access_key" "$secret_key")
}

case "$cmd" in
  install)
    install_packages
    ;;
  start)
    mkdir -p "$(dirname "$dir")"
    # Two test files starting the server at once must end up sharing one cluster.
    exec 9>"$dir.lock"
    flock -w 900 9 || die "another start or stop has held $dir.lock for 15 minutes"
    if running; then cat "$dir/env"; exit 0; fi
    install_packages
    stop_daemons 2>/dev/null || true
    rm -rf "$dir"
    mkdir -p "$dir"
    # In a subshell so that set -e holds inside it (an `if` condition would switch it off). A
    # second try covers a free port taken by someone else between choosing and binding it.
    for attempt in 1 2; do
      set +e
      (set -e; start_cluster)
      rc=$?
      set -e
      [ "$rc" -eq 0 ] && break
      [ "$attempt" -eq 2 ] && break
      echo "s3-test-server: start failed, retrying once" >&2
      stop_daemons
      rm -rf "$dir"
      mkdir -p "$dir"
    done
    if [ "$rc" -ne 0 ]; then
      tail -n 20 "$dir"/log/*.log >&2 2>/dev/null || true
      stop_daemons
      die "could not start the test cluster"
    fi
    cat "$dir/env"
    ;;
  env)
    running || die "not running (start it with: $0 start)"
    cat "$dir/env"
    ;;
  stop)
    exec 9>"$dir.lock"
    flock -w 900 9 || die "another start or stop has held $dir.lock for 15 minutes"
    stop_daemons
    rm -rf "$dir"
    ;;
  *)
    die "usage: $0 start|stop|env|install"
    ;;
esac

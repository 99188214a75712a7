#!/usr/bin/env bash
# Installs the system tools the end-to-end tests drive (skopeo, the AWS CLI, containerd, docker, podman) on a fresh
# Debian machine. Idempotent and quiet when everything is already there; on failure it prints
# the package manager's output and exits non-zero.
set -euo pipefail

# command name → Debian package that provides it
declare -A wanted=([skopeo]=skopeo [aws]=awscli [zstd]=zstd)  # zstd: layers compressed as buildx --compression zstd does
wanted+=([docker-registry]=docker-registry)  # the pull-through cache's upstream (python3's crypt makes its htpasswd)
wanted+=([radosgw]=radosgw [ceph-mon]=ceph-mon [ceph-osd]=ceph-osd)  # the S3 test server, scripts/s3-test-server.sh
wanted+=([containerd]=containerd [ctr]=containerd)  # what Kubernetes nodes pull with: test/e2e/containerd.test.ts
# docker's own client: test/e2e/docker.test.ts. On a systemd host the package also starts a system
# dockerd; the tests never use it (a private daemon on its own socket and containerd, DOCKER_CONFIG of their own).
wanted+=([dockerd]=docker.io [docker]=docker.io)
# podman and buildah (containers/image, as skopeo, with their own flows): test/e2e/podman.test.ts. Each run has
# its own store and config files; the package's podman.socket/service are never used (nothing runs a container).
wanted+=([podman]=podman [buildah]=buildah)
wanted+=([chromium]=chromium)  # the web console's browser tests (test/console), driven by playwright-core

missing=()
for cmd in "${!wanted[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${wanted[$cmd]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: missing ${missing[*]} and apt-get is not available; install them by hand" >&2
  exit 1
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-test-deps: missing ${missing[*]}; need root or sudo to install them" >&2
    exit 1
  fi
  sudo=(sudo)
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { "${sudo[@]}" apt-get update -q &&
       "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-test-deps: failed to install ${missing[*]} (output above)" >&2
  exit 1
fi

for cmd in "${!wanted[@]}"; do
  if ! command -v "$cmd" >/dev/null 2>&1; then
    echo "install-test-deps: installed ${wanted[$cmd]} but '$cmd' is still not on PATH" >&2
    exit 1
  fi
done

#!/usr/bin/env bash
# Builds the local control plane's binaries from Go modules, once per version set.
#
# Why: the tests and `make demo` run a real etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl and KWOK. None ship as
# packages we can install here, so we build them from the Go module proxy and
# keep them in a cache outside the repository, keyed by version. A warm cache
# makes this a no-op; a cold one takes tens of minutes on two cores.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
K8S_VERSION="${K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
CACHE_ROOT="${SEEDCODER_CACHE:-$HOME/.cache/seedcoder}"
BIN="${TESTBINS_DIR:-$CACHE_ROOT/testbins/k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}-kwok-${KWOK_VERSION}}"

export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 GOFLAGS=-mod=mod

need=()
for b in kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok; do
  [ -x "$BIN/$b" ] || need+=("$b")
done
[ -d "$BIN/stages" ] || need+=(stages)
if [ ${#need[@]} -eq 0 ]; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { echo "error: Go is not installed; install Go 1.26 and run again" >&2; exit 1; }
mkdir -p "$BIN"
log() { printf '[testbins] %s\n' "$*" >&2; }

# One build at a time: a second caller waits for the first, then finds the cache warm.
exec 9>"$BIN.lock"
if ! flock -n 9; then
  log "another build into $BIN is running; waiting for it"
  flock 9
  exec "$0" "$@"
fi
# The Go module and build caches need about 5 GiB on a cold machine.
free_kib=$(df -Pk "$(go env GOCACHE | xargs dirname)" | awk 'NR==2 {print $4}')
if [ "${free_kib:-0}" -lt $((6 * 1024 * 1024)) ]; then
  echo "error: building the control plane needs about 6 GiB free for Go's caches ($(go env GOCACHE)); only $((free_kib / 1024)) MiB are free. Free some space and run again." >&2
  exit 1
fi
log "building ${need[*]} into $BIN (cold: about 7 minutes on a quiet 2-core machine, longer under load; warm Go cache: a few minutes)"

minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
ldf="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldf="$ldf -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done

start=$(date +%s)
for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  if [ ! -x "$BIN/$b" ]; then
    log "go build $b ($(( $(date +%s) - start ))s elapsed)"
    (cd "$here/k8s-testbins" && go build -trimpath -tags=selinux,notest,grpcnotrace -ldflags "$ldf" -o "$BIN/$b.tmp" "k8s.io/kubernetes/cmd/$b")
    mv "$BIN/$b.tmp" "$BIN/$b"
  fi
done
if [ ! -x "$BIN/etcd" ]; then
  log "go build etcd ($(( $(date +%s) - start ))s elapsed)"
  (cd "$here/etcd-bin" && go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$BIN/etcd.tmp" "$BIN/etcd"
fi
if [ ! -x "$BIN/kwok" ]; then
  log "go install kwok ($(( $(date +%s) - start ))s elapsed)"
  tmpbin="$(mktemp -d)"
  GOBIN="$tmpbin" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  mv "$tmpbin/kwok" "$BIN/kwok"
  rmdir "$tmpbin"
fi
if [ ! -d "$BIN/stages" ]; then
  src="$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage"
  [ -d "$src" ] || (cd "$here/k8s-testbins" && go mod download "sigs.k8s.io/kwok@$KWOK_VERSION")
  mkdir -p "$BIN/stages.tmp"
  cp -r "$src/." "$BIN/stages.tmp/"
  chmod -R u+w "$BIN/stages.tmp"
  mv "$BIN/stages.tmp" "$BIN/stages"
fi
log "done in $(( $(date +%s) - start ))s"
for b in kube-apiserver kube-controller-manager kube-scheduler; do
  "$BIN/$b" --version | grep -qx "Kubernetes $K8S_VERSION" || { log "error: $b is not $K8S_VERSION"; exit 1; }
done
"$BIN/etcd" --version | grep -q "etcd Version: ${ETCD_VERSION#v}" || { log "error: etcd is not $ETCD_VERSION"; exit 1; }
"$BIN/kwok" --version >&2
echo "$BIN"

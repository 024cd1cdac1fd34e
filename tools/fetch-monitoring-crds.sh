#!/usr/bin/env bash
# Fetches the Prometheus Operator's CRDs (PodMonitor, PrometheusRule, ServiceMonitor,
# Prometheus) from the Go module proxy, once per version, into a cache outside the
# repository, and prints the folder that holds them.
#
# Why: the tests install the real CRDs on the local control plane to check that a
# Prometheus Operator style selector (the Prometheus' podMonitorSelector and
# ruleSelector, matchLabels) picks up what the operator writes. The module's zip
# ships them under example/prometheus-operator-crd/.
set -euo pipefail

VERSION="${PROMETHEUS_OPERATOR_VERSION:-v0.85.0}"
CACHE_ROOT="${SEEDCODER_CACHE:-$HOME/.cache/seedcoder}"
OUT="$CACHE_ROOT/crds/prometheus-operator-$VERSION"
KINDS=(podmonitors prometheusrules servicemonitors prometheuses)

complete() {
  for k in "${KINDS[@]}"; do [ -s "$OUT/monitoring.coreos.com_$k.yaml" ] || return 1; done
}
if complete; then
  echo "$OUT"
  exit 0
fi
command -v go >/dev/null || { echo "error: Go is not installed; install Go 1.26 and run again" >&2; exit 1; }
export GOTOOLCHAIN=local GOWORK=off GOFLAGS=-mod=mod
dir="$(go mod download -json "github.com/prometheus-operator/prometheus-operator@$VERSION" \
  | python3 -c 'import json, sys; d = json.load(sys.stdin); sys.exit(d["Error"]) if d.get("Error") else print(d["Dir"])')"
mkdir -p "$OUT.tmp"
for k in "${KINDS[@]}"; do
  src="$dir/example/prometheus-operator-crd/monitoring.coreos.com_$k.yaml"
  [ -s "$src" ] || { echo "error: $src is missing from the module $VERSION" >&2; exit 1; }
  cp "$src" "$OUT.tmp/"
done
chmod -R u+w "$OUT.tmp"
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
echo "$OUT"

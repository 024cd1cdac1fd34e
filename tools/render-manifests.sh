#!/usr/bin/env bash
# Regenerate every generated file the Helm chart and manifests/ ship, from their
# single sources:
#   - the CRDs: manifests/crds/ -> charts/seedcoder-operator/crds/ (copies);
#   - dashboards and rules: seedcoder.observability -> chart files/ and manifests/monitoring/;
#   - manifests/install.yaml: `helm template` of the chart with default values, plus its Namespace;
#   - manifests/monitoring/grafana-dashboards.yaml: the chart's dashboards ConfigMap.
# Tests in tests/install/ and tests/observability/ fail when a committed copy differs.
# Usage: tools/render-manifests.sh   (from anywhere; needs the venv and Helm: make tools)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py="${PYTHON:-$root/.venv/bin/python}"
chart=charts/seedcoder-operator
helm="$("$py" -c 'from seedcoder_dev.devcluster.tools import helm_path; print(helm_path())')"

mkdir -p "$chart/crds"
cp manifests/crds/seedcoderdeployments.yaml "$chart/crds/seedcoderdeployments.yaml"
cp manifests/crds/seedcoderfinetunes.yaml "$chart/crds/seedcoderfinetunes.yaml"

"$py" -m seedcoder.observability.render "$root"

# Render into a scratch folder outside the repository, then move into place.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
"$helm" template seedcoder-operator "$chart" --namespace seedcoder-system \
  | "$py" -m seedcoder_dev.install_manifests install > "$scratch/install.yaml"
"$helm" template seedcoder-operator "$chart" --namespace seedcoder-system \
    --set monitoring.dashboards.enabled=true --show-only templates/dashboards.yaml \
  | "$py" -m seedcoder_dev.install_manifests dashboards > "$scratch/grafana-dashboards.yaml"
cp "$scratch/install.yaml" manifests/install.yaml
cp "$scratch/grafana-dashboards.yaml" manifests/monitoring/grafana-dashboards.yaml
echo "rendered manifests/install.yaml and manifests/monitoring/"

"""Every shipped example reaches Ready under exactly the permissions the Helm chart grants.

The chart is installed in namespaced mode (watching the test namespace); the real
operator process then runs here with a token of the chart's ServiceAccount, so a
rule missing from ``files/rbac-rules.yaml`` (or a Role the chart fails to bind)
shows up as a 403 in its log or as an example that never becomes Ready. The
examples get what they reference: the ``models`` and ``seedcoder-engine-cache``
claims (pre-bound) and the ``seedcoder-api-keys`` Secret. The operator's metrics
must then agree with the status it wrote.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from seedcoder import metricnames as mn
from seedcoder_dev.devcluster import Cluster

from tests.install.conftest import CHART, ROOT, run_helm
from tests.operator.harness import OperatorProcess, install_volumes, wait_for
from tests.operator.test_cluster_lifecycle import scd, wait_ready

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
EXAMPLES = sorted((ROOT / "manifests" / "examples").glob("*.yaml"))
CLAIMS = ("models", "seedcoder-engine-cache")
API_KEYS = "seedcoder-api-keys"
RELEASE = "op"


def _references(example: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The claims and Secrets an example needs (so the test provides exactly those)."""
    spec = example["spec"]
    claims = {spec["model"]["source"]["pvc"]["claimName"], spec["engine"]["cache"]["pvc"]["claimName"]}
    return claims, {spec["gateway"]["apiKeySecretRef"]["name"]}


@pytest.fixture
def chart_operator(cluster: Cluster, namespace: str, helm: Path, tmp_path: Path) -> Iterator[OperatorProcess]:
    """The chart installed in ``namespace``, watching it; its operator runs here as the chart's SA."""
    name = f"ex-{namespace[-6:]}"
    run_helm(
        helm, "install", RELEASE, str(CHART), "-n", namespace,
        "--set", f"fullnameOverride={name}",
        "--set", f"operator.watchNamespaces={{{namespace}}}",
        # The operator runs here as the chart's ServiceAccount (so the test reads its
        # metrics and logs); the chart's own pod, which would run on the real node, is
        # parked by a node selector no node matches, so one operator acts.
        "--set-string", "nodeSelector.seedcoder\\.dev/operator-runs-in-the-test=true",
        kubeconfig=cluster.kubeconfig,
    )  # fmt: skip
    op = OperatorProcess(cluster, namespace, tmp_path, service_account=name, resync="2")
    try:
        yield op.start()
    finally:
        op.stop()
        print(f"--- operator log ({op.log}) ---\n{op.log_tail(150)}")  # shown when the test fails
        run_helm(
            helm, "uninstall", RELEASE, "-n", namespace, "--wait", "--timeout=120s",
            check=False, kubeconfig=cluster.kubeconfig,
        )  # fmt: skip


def _samples(op: OperatorProcess, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    out = {}
    for family in text_string_to_metric_families(op.metrics()):
        for s in family.samples:
            if s.name == name:
                out[tuple(sorted(s.labels.items()))] = s.value
    return out


def test_every_example_reaches_ready_with_the_charts_rbac(
    cluster: Cluster, namespace: str, chart_operator: OperatorProcess
) -> None:
    examples = [yaml.safe_load(path.read_text()) for path in EXAMPLES]
    assert len(examples) >= 4
    claims: set[str] = set()
    secrets: set[str] = set()
    for example in examples:
        c, s = _references(example)
        claims |= c
        secrets |= s
    assert claims == set(CLAIMS), "the examples reference other claims now"
    assert secrets == {API_KEYS}, "the examples reference other Secrets now"
    install_volumes(cluster, namespace, CLAIMS)
    cluster.kubectl(
        "create", "secret", "generic", API_KEYS, "-n", namespace, "--from-literal=team-a=sk-example-0001"
    )

    cluster.kubectl("apply", "-n", namespace, "-f", str(ROOT / "manifests" / "examples"))
    names = [e["metadata"]["name"] for e in examples]
    for name in names:
        obj = wait_ready(cluster, namespace, name, timeout=240)
        assert obj["status"]["phase"] in ("Ready", "Degraded"), obj["status"]
    assert chart_operator.forbidden() == [], chart_operator.forbidden()

    # the operator's metrics say what the statuses say
    statuses = {name: scd(cluster, namespace, name)["status"] for name in names}
    engines = {e["key"]: e["arch"] for st in statuses.values() for e in st["engines"]}
    want_builds: dict[str, float] = {}
    for arch in engines.values():
        want_builds[arch] = want_builds.get(arch, 0) + 1

    def builds_agree() -> bool:
        got = _samples(chart_operator, mn.OPERATOR_ENGINE_BUILDS)
        ready = {dict(k)["arch"]: v for k, v in got.items() if dict(k)["state"] == "Ready"}
        return ready == want_builds

    wait_for("engine builds per arch in the operator's metrics", builds_agree, timeout=30)
    ready = _samples(chart_operator, mn.AUTOSCALER_READY_REPLICAS)
    for name, st in statuses.items():
        for pool in st["pools"]:
            key = (("deployment", name), ("namespace", namespace), ("pool", pool["name"]))
            assert key in ready, (key, sorted(ready))
    assert _samples(chart_operator, mn.OPERATOR_ENGINE_BUILD_SECONDS + "_count"), "no build duration observed"

    # a deleted resource's series leave the operator's metrics
    gone = names[0]
    cluster.kubectl("delete", "scd", gone, "-n", namespace)

    def series_of(name: str) -> list[tuple[tuple[str, str], ...]]:
        return [
            k for k in _samples(chart_operator, mn.AUTOSCALER_READY_REPLICAS) if ("deployment", name) in k
        ]

    wait_for(f"{gone}'s series removed", lambda: not series_of(gone), timeout=30)
    assert series_of(names[1]), "the other resources keep theirs"

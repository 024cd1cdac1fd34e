"""With the Prometheus Operator's API present, each resource gets its PrometheusRule and PodMonitor.

The operator checks for ``monitoring.coreos.com/v1`` once, at start: without it a
resource is served and nothing else happens; after the API appears and the
operator restarts, the resource's rules (for its own TTFT objective) and scrape
monitor appear, owned by it, and follow a change of the objective. The CRDs are the
Prometheus Operator's own (``tools/fetch-monitoring-crds.sh`` caches them from the
Go module proxy; their schemas validate what the operator writes), installed for
this test and removed afterwards so that other tests see a cluster without them. A
``Prometheus`` object as kube-prometheus-stack writes it then selects the PodMonitor
and the PrometheusRule by its ``podMonitorSelector`` / ``ruleSelector`` (matchLabels).
The operator runs as its least-privilege ServiceAccount and must never be refused (no 403).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from seedcoder.observability import rules
from seedcoder_dev.devcluster import Cluster

from tests.operator.harness import OperatorProcess, apply, kubectl_json, wait_for
from tests.operator.sample import sample
from tests.operator.test_cluster_lifecycle import wait_ready

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
API = "/apis/monitoring.coreos.com/v1"
KINDS = ("prometheusrules", "podmonitors", "prometheuses")


@pytest.fixture(scope="session")
def prometheus_operator_crds() -> list[Path]:
    """The Prometheus Operator's CRD files (fetched once into the cache; ``make test`` does it first)."""
    out = subprocess.run(
        ["bash", str(ROOT / "tools" / "fetch-monitoring-crds.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, f"could not fetch the Prometheus Operator CRDs:\n{out.stderr}"
    folder = Path(out.stdout.strip().splitlines()[-1])
    return [folder / f"monitoring.coreos.com_{kind}.yaml" for kind in KINDS]


@pytest.fixture
def monitoring_api(cluster: Cluster, prometheus_operator_crds: list[Path]) -> Iterator[Callable[[], None]]:
    """Call it to install the Prometheus Operator's CRDs; removed at the end."""
    files = [a for f in prometheus_operator_crds for a in ("-f", str(f))]

    def install() -> None:
        cluster.kubectl("apply", "--server-side", *files)
        cluster.kubectl(
            "wait", "--for=condition=Established", "--timeout=60s",
            *(f"crd/{kind}.monitoring.coreos.com" for kind in KINDS),
        )  # fmt: skip
        wait_for("the monitoring.coreos.com/v1 API", lambda: cluster.api_exists(API), timeout=30)

    yield install
    cluster.kubectl("delete", *files, "--ignore-not-found", "--timeout=120s", check=False)


def _selected(cluster: Cluster, prometheus: dict[str, Any], kind: str, field: str) -> set[str]:
    """What a Prometheus selects of ``kind`` by its ``field`` (matchLabels, every namespace)."""
    match = prometheus["spec"][field]["matchLabels"]
    selector = ",".join(f"{k}={v}" for k, v in sorted(match.items()))
    found = kubectl_json(cluster, "get", kind, "-A", "-l", selector)["items"]
    return {f"{o['metadata']['namespace']}/{o['metadata']['name']}" for o in found}


def _get(cluster: Cluster, ns: str, kind: str, name: str) -> dict[str, Any] | None:
    result = cluster.kubectl("get", kind, name, "-n", ns, "-o", "json", "--ignore-not-found", check=False)
    if result.returncode != 0 or not result.stdout.strip():
        return None
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def _threshold(rule: dict[str, Any]) -> str:
    for group in rule["spec"]["groups"]:
        for r in group["rules"]:
            if r.get("record") == rules.SLO_TTFT_THRESHOLD:
                expr: str = r["expr"]
                return expr
    raise AssertionError("no TTFT threshold recording rule")


def test_prometheus_rule_and_pod_monitor_follow_the_resource(
    cluster: Cluster,
    namespace: str,
    start_operator: Callable[..., OperatorProcess],
    monitoring_api: Callable[[], None],
) -> None:
    op = start_operator(resync="2")
    one = sample(namespace=namespace, pools=[{"name": "h100", "gpu": "H100"}])
    apply(cluster, one)
    uid = wait_ready(cluster, namespace, "completions")["metadata"]["uid"]
    assert not cluster.api_exists(API), "another test left the monitoring CRDs installed"
    op.stop()

    monitoring_api()
    op = start_operator(resync="2")  # the operator looks for the API when it starts
    owned = {"PrometheusRule": "completions-slo", "PodMonitor": "completions-metrics"}
    objs = {
        kind: wait_for(f"{kind} {name}", lambda k=kind, n=name: _get(cluster, namespace, k, n), timeout=60)
        for kind, name in owned.items()
    }
    for kind, obj in objs.items():
        refs = obj["metadata"]["ownerReferences"]
        assert [(r["kind"], r["name"], r["uid"], r.get("controller")) for r in refs] == [
            ("SeedCoderDeployment", "completions", uid, True)
        ], kind
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == "completions"
        assert labels["app.kubernetes.io/managed-by"] == "seedcoder-operator"
    assert _threshold(objs["PrometheusRule"]) == "vector(0.3)"  # spec.slo.ttftP95Ms: 300
    monitor = objs["PodMonitor"]["spec"]
    assert monitor["namespaceSelector"] == {"matchNames": [namespace]}
    assert monitor["selector"]["matchLabels"]["app.kubernetes.io/instance"] == "completions"

    # a new objective reaches the rules
    cluster.kubectl(
        "patch",
        "scd",
        "completions",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec":{"slo":{"ttftP95Ms":500}}}',
    )
    wait_for(
        "the 500 ms threshold in the PrometheusRule",
        lambda: (
            _threshold(
                _get(cluster, namespace, "PrometheusRule", "completions-slo") or objs["PrometheusRule"]
            )
            == "vector(0.5)"
        ),
        timeout=60,
    )

    # the operator's own Events (events.k8s.io) were accepted, and nothing was refused
    events = kubectl_json(cluster, "get", "events.events.k8s.io", "-n", namespace)["items"]
    ours = [e for e in events if e.get("reportingController") == "seedcoder.dev/operator"]
    assert any(e["regarding"]["name"] == "completions" for e in ours), events
    assert op.forbidden() == [], op.forbidden()

    # kube-prometheus-stack's Prometheus (release "kube-prometheus-stack") selects both by matchLabels.
    selector = {"matchLabels": {"release": "kube-prometheus-stack"}}
    prom = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "Prometheus",
        "metadata": {"name": "kube-prometheus-stack-prometheus", "namespace": namespace},
        "spec": {
            "podMonitorSelector": selector,
            "podMonitorNamespaceSelector": {},
            "ruleSelector": selector,
            "ruleNamespaceSelector": {},
        },
    }
    apply(cluster, prom)
    live = kubectl_json(cluster, "get", "prometheus", "kube-prometheus-stack-prometheus", "-n", namespace)
    monitors = _selected(cluster, live, "podmonitors", "podMonitorSelector")
    assert f"{namespace}/completions-metrics" in monitors
    assert f"{namespace}/completions-slo" in _selected(cluster, live, "prometheusrules", "ruleSelector")
    other = {"spec": {"podMonitorSelector": {"matchLabels": {"release": "other"}}}}
    assert f"{namespace}/completions-metrics" not in _selected(
        cluster, other, "podmonitors", "podMonitorSelector"
    )
    op.stop()

    # The labels are the operator's setting (the chart's monitoring.selectorLabels).
    op = start_operator(resync="2", SEEDCODER_MONITORING_LABELS="release=prom,team=ml")

    def team() -> str | None:
        obj = _get(cluster, namespace, "PrometheusRule", "completions-slo") or {}
        value: str | None = obj.get("metadata", {}).get("labels", {}).get("team")
        return value

    wait_for("the PrometheusRule relabelled", lambda: team() == "ml", timeout=60)
    relabelled = {"spec": {"ruleSelector": {"matchLabels": {"release": "prom", "team": "ml"}}}}
    assert f"{namespace}/completions-slo" in _selected(cluster, relabelled, "prometheusrules", "ruleSelector")

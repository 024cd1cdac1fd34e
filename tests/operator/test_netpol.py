"""Each NetworkPolicy rule is one flow the product has, selecting pods by the labels the operator sets.

The selectors are checked against the real pod templates of the plan (a rule
whose labels no pod carries would silently allow nothing, or deny a needed flow).
"""

from __future__ import annotations

from typing import Any

from seedcoder.operator.objects import netpol
from seedcoder.operator.objects.desired import plan
from seedcoder.operator.settings import OperatorSettings

from tests.operator.helpers import SETTINGS, all_built, parsed
from tests.operator.sample import sample, with_path

NS = "kubernetes.io/metadata.name"
OPERATOR_PODS = {"app.kubernetes.io/part-of": "seedcoder", "app.kubernetes.io/component": "operator"}


def _owned(body: dict[str, Any] | None = None, settings: OperatorSettings = SETTINGS) -> list[dict[str, Any]]:
    scd, pools = parsed(body)
    return plan(scd, pools, all_built(pools), settings).owned


def _policy(owned: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (p,) = [o for o in owned if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == name]
    spec: dict[str, Any] = p["spec"]
    return spec


def _pod_labels(owned: list[dict[str, Any]], component: str) -> list[dict[str, str]]:
    return [
        o["spec"]["template"]["metadata"]["labels"]
        for o in owned
        if o["kind"] == "Deployment" and o["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A LabelSelector's verdict: every matchLabels pair and every matchExpressions requirement."""
    if not all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for req in selector.get("matchExpressions", []):
        key, op, values = req["key"], req["operator"], req.get("values", [])
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def _ports(rule: dict[str, Any]) -> list[int]:
    return sorted(p["port"] for p in rule["ports"])


def test_policies_select_the_pods_the_operator_really_makes() -> None:
    owned = _owned()
    gateway, tritons = _pod_labels(owned, "gateway"), _pod_labels(owned, "triton")
    assert len(gateway) == 1
    assert len(tritons) == 2
    deny = _policy(owned, "completions-default-deny")
    assert all(_selects(deny["podSelector"], pod) for pod in gateway + tritons)
    assert deny["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny
    assert "egress" not in deny
    assert _selects(_policy(owned, "completions-gateway")["podSelector"], gateway[0])
    assert not any(_selects(_policy(owned, "completions-gateway")["podSelector"], t) for t in tritons)
    triton = _policy(owned, "completions-triton")
    assert all(_selects(triton["podSelector"], t) for t in tritons)
    assert not _selects(triton["podSelector"], gateway[0])


def test_triton_accepts_gateway_grpc_and_monitoring_metrics_and_sends_nothing() -> None:
    owned = _owned()
    gateway = _pod_labels(owned, "gateway")[0]
    triton = _policy(owned, "completions-triton")
    from_gateway, from_monitoring = triton["ingress"]
    (peer,) = from_gateway["from"]
    assert set(peer) == {"podSelector"}  # same namespace only
    assert _selects(peer["podSelector"], gateway)
    assert _ports(from_gateway) == [8001]  # gRPC: inference and the model-ready checks
    assert from_monitoring["from"] == [{"namespaceSelector": {"matchLabels": {NS: "monitoring"}}}]
    assert _ports(from_monitoring) == [8002]
    assert triton["egress"] == []


def test_gateway_accepts_clients_and_monitoring_and_reaches_only_dns_and_triton_grpc() -> None:
    owned = _owned()
    tritons = _pod_labels(owned, "triton")
    gw = _policy(owned, "completions-gateway")
    clients, monitoring = gw["ingress"]  # fixed mode: the operator does not scrape, so no rule for it
    assert clients["from"] == [
        {"namespaceSelector": {"matchExpressions": [{"key": NS, "operator": "In", "values": ["dev-tools"]}]}},
        {"ipBlock": {"cidr": "10.0.0.0/8"}},
    ]
    assert _ports(clients) == [8000]
    assert monitoring["from"] == [{"namespaceSelector": {"matchLabels": {NS: "monitoring"}}}]
    assert _ports(monitoring) == [8000]
    dns, to_triton = gw["egress"]
    assert dns == netpol.DNS_EGRESS
    (peer,) = to_triton["to"]
    assert all(_selects(peer["podSelector"], t) for t in tritons)
    assert _ports(to_triton) == [8001]


def test_gateway_admits_the_operator_exactly_when_the_operator_scrapes_it() -> None:
    slo = with_path(sample(), "autoscaling.mode", "slo")
    in_cluster = SETTINGS.model_copy(update={"operator_namespace": "seedcoder-system"})
    gw = _policy(_owned(slo, in_cluster), "completions-gateway")
    operator = gw["ingress"][-1]
    assert operator["from"] == [
        {
            "namespaceSelector": {"matchLabels": {NS: "seedcoder-system"}},
            "podSelector": {"matchLabels": OPERATOR_PODS},
        }
    ]
    assert _ports(operator) == [8000]
    # with Prometheus the operator never calls the gateway; outside a cluster it has no pod to admit
    for body, settings in (
        (with_path(slo, "autoscaling.prometheusUrl", "http://prometheus.monitoring.svc:9090"), in_cluster),
        (slo, in_cluster.model_copy(update={"prometheus_url": "http://prometheus.monitoring.svc:9090"})),
        (slo, SETTINGS),
        (sample(), in_cluster),  # fixed mode
    ):
        assert len(_policy(_owned(body, settings), "completions-gateway")["ingress"]) == 2


def test_operator_namespace_comes_from_the_downward_api() -> None:
    assert OperatorSettings.from_env({"POD_NAMESPACE": "ops"}).operator_namespace == "ops"
    env = {"POD_NAMESPACE": "ops", "SEEDCODER_OPERATOR_NAMESPACE": "other"}
    assert OperatorSettings.from_env(env).operator_namespace == "other"
    assert OperatorSettings.from_env({}).operator_namespace is None


def test_build_pods_reach_only_dns_and_their_model_source() -> None:
    scd, pools = parsed()
    job_labels = plan(scd, pools, all_built(pools).__class__(), SETTINGS).new_jobs[0]["spec"]["template"][
        "metadata"
    ]["labels"]
    pvc = _policy(_owned(), "completions-engine-build")
    assert _selects(pvc["podSelector"], job_labels)
    assert pvc["podSelector"]["matchExpressions"][0]["values"] == sorted(pe.key for pe in pools)
    assert "ingress" not in pvc
    assert pvc["egress"] == [netpol.DNS_EGRESS]  # a volume needs no network
    s3 = with_path(
        sample(), "model.source", {"s3": {"uri": "s3://models/seed-coder", "secretRef": {"name": "s3"}}}
    )
    s3 = with_path(s3, "network.modelSourceCIDRs", ["10.20.0.0/16"])
    rules = _policy(_owned(s3), "completions-engine-build")["egress"]
    assert rules[1] == {
        "to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}],
        "ports": [{"protocol": "TCP", "port": 443}],
    }
    hub = with_path(sample(), "model.source", {"huggingFace": {}})
    assert _policy(_owned(hub), "completions-engine-build")["egress"] == [netpol.DNS_EGRESS]
    hub = with_path(hub, "network.allowModelDownload", True)
    assert _policy(_owned(hub), "completions-engine-build")["egress"][1] == {
        "ports": [{"protocol": "TCP", "port": 443}]
    }

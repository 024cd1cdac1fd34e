"""The operator against the real control plane: Ready, placement, ownership, no-op resync, sharing, GC."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from seedcoder_dev.devcluster import Cluster

from tests.operator.harness import (
    OperatorProcess,
    apply,
    audit_offset,
    audit_writes,
    kubectl_json,
    wait_for,
)
from tests.operator.sample import sample

pytestmark = pytest.mark.cluster
PRODUCT = "nvidia.com/gpu.product"
ARCH_PRODUCT = {"sm90": "NVIDIA-H100-80GB-HBM3", "sm80": "NVIDIA-A100-SXM4-80GB"}
POOL_PRODUCT = {"h100": "NVIDIA-H100-80GB-HBM3", "a100": "NVIDIA-A100-SXM4-80GB"}


def scd(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    out: dict[str, Any] = kubectl_json(cluster, "get", "scd", name, "-n", ns)
    return out


def condition(obj: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c["type"] == ctype:
            found: dict[str, Any] = c
            return found
    return None


def wait_ready(cluster: Cluster, ns: str, name: str, timeout: float = 150) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        obj = scd(cluster, ns, name)
        c = condition(obj, "Ready")
        return obj if c and c["status"] == "True" else None

    return wait_for(f"{name} Ready", probe, timeout=timeout, interval=1)


def node_product(cluster: Cluster, node: str) -> str:
    labels: dict[str, str] = kubectl_json(cluster, "get", "node", node)["metadata"]["labels"]
    return labels.get(PRODUCT, "")


def build_jobs(cluster: Cluster, ns: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kubectl_json(
        cluster, "get", "jobs", "-n", ns, "-l", "app.kubernetes.io/component=engine-build"
    )["items"]
    return items


def test_h100_and_a100_resource_reaches_ready(
    cluster: Cluster, namespace: str, start_operator: Callable[..., OperatorProcess]
) -> None:
    op = start_operator(resync="2")
    apply(cluster, sample(namespace=namespace))
    obj = wait_ready(cluster, namespace, "completions")
    uid = obj["metadata"]["uid"]
    status = obj["status"]
    assert status["phase"] == "Ready"
    assert status["enginesSummary"] == "2/2"
    assert {e["arch"]: e["state"] for e in status["engines"]} == {"sm90": "Ready", "sm80": "Ready"}
    assert all(c["observedGeneration"] == obj["metadata"]["generation"] for c in status["conditions"])

    # exactly one build Job per distinct GPU arch, each run on a node of that arch
    jobs = build_jobs(cluster, namespace)
    assert sorted(j["metadata"]["labels"]["seedcoder.dev/arch"] for j in jobs) == ["sm80", "sm90"]
    for job in jobs:
        pods = kubectl_json(
            cluster,
            "get",
            "pods",
            "-n",
            namespace,
            "-l",
            f"batch.kubernetes.io/job-name={job['metadata']['name']}",
        )["items"]
        assert pods, f"no pod for {job['metadata']['name']}"
        for pod in pods:
            assert (
                node_product(cluster, pod["spec"]["nodeName"])
                == ARCH_PRODUCT[job["metadata"]["labels"]["seedcoder.dev/arch"]]
            )

    # Triton pods only on their pool's nodes
    for pool, product in POOL_PRODUCT.items():
        pods = kubectl_json(
            cluster,
            "get",
            "pods",
            "-n",
            namespace,
            "-l",
            f"app.kubernetes.io/component=triton,seedcoder.dev/pool={pool}",
        )["items"]
        assert pods
        assert {node_product(cluster, p["spec"]["nodeName"]) for p in pods} == {product}

    # every owned object carries the resource's ownerReference
    kinds = "deployments,services,configmaps,poddisruptionbudgets,networkpolicies"
    owned = kubectl_json(
        cluster, "get", kinds, "-n", namespace, "-l", "app.kubernetes.io/instance=completions"
    )
    assert len(owned["items"]) >= 13
    for item in owned["items"]:
        refs = item["metadata"].get("ownerReferences") or []
        assert [r["uid"] for r in refs] == [uid], f"{item['kind']}/{item['metadata']['name']} refs {refs}"
    config = kubectl_json(cluster, "get", "configmap", "completions-gateway", "-n", namespace)
    assert "completions-triton-h100" in config["data"]["gateway.json"]

    # kubectl get scd shows the printer columns with live values
    table = cluster.kubectl("get", "scd", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "PHASE", "READY", "ENGINES", "BUILD", "TTFT-P95", "ENDPOINT", "AGE"]
    row = table[1].split()
    assert row[:4] == ["completions", "Ready", "True", "2/2"]
    assert row[4].startswith("http://completions-gateway.")

    # a no-op resync writes nothing: timer rounds and a restart of the operator
    time.sleep(3)
    assert len(audit_writes(cluster, op.user)) > 10, "the audit log sees the operator's writes (sanity check)"
    assert "seedcoder_operator_api_writes_total" in op.metrics()
    offset = audit_offset(cluster)
    time.sleep(7)  # three resync rounds
    op.stop()
    op2 = start_operator(resync="2")
    time.sleep(7)
    writes = audit_writes(cluster, op2.user, offset)
    assert writes == [], [f"{w['verb']} {w['requestURI']}" for w in writes]
    assert "seedcoder_operator_reconcile_duration_seconds_count" in op2.metrics()

    # Triton Services are headless (DNS answers every ready pod); one left by an older version,
    # with a cluster IP the API server never lets an update remove, is replaced by the operator.
    svc = kubectl_json(cluster, "get", "service", "completions-triton-h100", "-n", namespace)
    assert svc["spec"]["clusterIP"] == "None"
    old = json.loads(json.dumps(svc))
    old["metadata"] = {k: v for k, v in svc["metadata"].items() if k in ("name", "namespace", "labels")}
    old["metadata"]["ownerReferences"] = svc["metadata"]["ownerReferences"]
    old["metadata"]["annotations"] = {"seedcoder.dev/desired-hash": "from-an-older-version"}
    old["spec"] = {k: v for k, v in svc["spec"].items() if k in ("selector", "ports", "type")}
    op2.stop()  # the older version's Service is in place before this operator version starts
    cluster.kubectl("delete", "service", "completions-triton-h100", "-n", namespace, "--wait=true")
    cluster.kubectl("create", "-f", "-", input=json.dumps(old))
    old_uid = kubectl_json(cluster, "get", "service", "completions-triton-h100", "-n", namespace)
    assert old_uid["spec"]["clusterIP"] != "None"
    start_operator(resync="2")

    def replaced() -> dict[str, Any] | None:
        out = cluster.kubectl("get", "service", "completions-triton-h100", "-n", namespace, "-o", "json",
                              check=False)  # fmt: skip
        now: dict[str, Any] | None = json.loads(out.stdout) if out.returncode == 0 else None
        return now if now and now["spec"].get("clusterIP") == "None" else None

    new = wait_for("the headless Service to replace the ClusterIP one", replaced, timeout=30)
    assert new["metadata"]["uid"] != old_uid["metadata"]["uid"]

    # a child deleted by hand is back by the next resync (between resyncs, woken reconciles
    # trust their memory of what they applied instead of listing Services, ConfigMaps,
    # PodDisruptionBudgets and NetworkPolicies again)
    policies = kubectl_json(
        cluster, "get", "networkpolicies", "-n", namespace, "-l", "app.kubernetes.io/instance=completions"
    )["items"]
    gone = policies[0]["metadata"]["name"]
    cluster.kubectl("delete", "networkpolicy", gone, "-n", namespace, "--wait=true")
    wait_for(
        f"NetworkPolicy {gone} restored by the resync",
        lambda: cluster.kubectl("get", "networkpolicy", gone, "-n", namespace, check=False).returncode == 0,
        timeout=30,
    )


def test_shared_engine_survives_deleting_one_user(
    cluster: Cluster, namespace: str, start_operator: Callable[..., OperatorProcess]
) -> None:
    start_operator(resync="3")
    one = sample(name="one", namespace=namespace, pools=[{"name": "h100", "gpu": "H100"}])
    two = sample(name="two", namespace=namespace, pools=[{"name": "h100", "gpu": "H100", "maxReplicas": 8}])
    apply(cluster, one, two)
    wait_ready(cluster, namespace, "one")
    wait_ready(cluster, namespace, "two")
    jobs = build_jobs(cluster, namespace)
    assert len(jobs) == 1, "two resources with the same model and build settings share one build"
    wait_for(
        "both owners on the shared Job",
        lambda: len(build_jobs(cluster, namespace)[0]["metadata"].get("ownerReferences") or []) == 2,
    )
    job_name = jobs[0]["metadata"]["name"]

    cluster.kubectl("delete", "scd", "one", "-n", namespace)
    wait_for(
        "one's objects garbage-collected",
        lambda: (
            not kubectl_json(
                cluster,
                "get",
                "deployments,services,configmaps,networkpolicies,poddisruptionbudgets",
                "-n",
                namespace,
                "-l",
                "app.kubernetes.io/instance=one",
            )["items"]
        ),
        timeout=90,
        interval=2,
    )
    job = kubectl_json(cluster, "get", "job", job_name, "-n", namespace)
    assert [r["name"] for r in job["metadata"]["ownerReferences"]] == ["two"]
    assert condition(scd(cluster, namespace, "two"), "Ready")["status"] == "True"  # type: ignore[index]

    cluster.kubectl("delete", "scd", "two", "-n", namespace)
    wait_for(
        "the shared Job deleted with its last user",
        lambda: cluster.kubectl("get", "job", job_name, "-n", namespace, check=False).returncode != 0,
        timeout=90,
        interval=2,
    )

"""A mixed GPU cluster: every pool of every example lands on its GPU kind, whatever the variant.

Why against the real scheduler: node affinity terms are ORed and their expressions
ANDed, a nodeSelector is ANDed with both, taints need tolerations; a pure test can
only check the manifest, this one checks what kube-scheduler does with it. The
local cluster gets two more simulated variants for this test (an H100 NVL and an
A100 40 GB node, labelled as GPU Feature Discovery labels them), removed after.
Three kinds share sm89 (L40S, RTX 4090, L4): they are told apart by memory, so a pool
lands on its own kind only (a 48 GB engine never on a 24 GB card).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from seedcoder.api.resource import SeedCoderDeployment
from seedcoder.engines.profiles import profile_for_product_label
from seedcoder.operator.objects.build_job import build_job
from seedcoder.operator.objects.engineplan import plan_engines
from seedcoder.operator.objects.image_choice import choose
from seedcoder.operator.objects.triton import deployment
from seedcoder_dev.devcluster import Cluster
from seedcoder_dev.devcluster.nodes import SIMULATED_LABEL, variant_manifests

from tests.operator.harness import install_volumes
from tests.operator.helpers import SETTINGS
from tests.operator.sample import live

pytestmark = pytest.mark.cluster

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "manifests" / "examples").glob("*.yaml"))
HOSTNAME = "kubernetes.io/hostname"
WHY: dict[str, str] = {}
"""Why the scheduler refused a pod (its PodScheduled message), for failure messages."""


def _nodes(cluster: Cluster) -> dict[str, str]:
    """Simulated node name -> GPU kind (from its product label; CPU without one).

    The test's namespace keeps pods on simulated nodes, so the real ``cpu-0`` is left out.
    """
    items = json.loads(cluster.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    out = {}
    for node in items:
        if node["metadata"]["labels"].get(SIMULATED_LABEL) != "true":
            continue
        product = node["metadata"]["labels"].get("nvidia.com/gpu.product")
        profile = profile_for_product_label(product) if product else None
        out[node["metadata"]["name"]] = profile.gpu if profile else "CPU"
    return out


def _pod(name: str, namespace: str, pod_spec: dict[str, Any]) -> dict[str, Any]:
    spec = json.loads(json.dumps(pod_spec))
    spec["restartPolicy"] = "Never"
    # Where a pod may go is decided by its affinity, nodeSelector and tolerations; without
    # its GPU request, the test's many pods all fit the one-GPU nodes (RTX 4090, L4) at once.
    for container in spec["containers"]:
        container.get("resources", {}).get("limits", {}).pop("nvidia.com/gpu", None)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def _wait(cluster: Cluster, namespace: str, expected: dict[str, str | None]) -> dict[str, str | None]:
    """Pod -> node it was bound to (None: the scheduler found it unschedulable), once all are decided."""
    deadline = time.monotonic() + 90
    decided: dict[str, str | None] = {}
    while time.monotonic() < deadline:
        pods = json.loads(cluster.kubectl("get", "pods", "-n", namespace, "-o", "json").stdout)["items"]
        decided = {}
        for pod in pods:
            name = pod["metadata"]["name"]
            if pod["spec"].get("nodeName"):
                decided[name] = pod["spec"]["nodeName"]
            elif any(
                c["type"] == "PodScheduled" and c.get("reason") == "Unschedulable"
                for c in pod.get("status", {}).get("conditions", [])
            ):
                decided[name] = None
                WHY[name] = str(pod["status"]["conditions"])
        if set(decided) >= set(expected):
            return decided
        time.sleep(1)
    return decided


def test_every_example_pool_lands_on_its_architecture_on_every_variant(
    cluster: Cluster, namespace: str
) -> None:
    install_volumes(cluster, namespace, ("models", "seedcoder-engine-cache"))  # what the examples name
    variants = variant_manifests()
    for node in variants:
        cluster.kubectl("delete", "node", node["metadata"]["name"], "--ignore-not-found", check=False)
    cluster.kubectl(
        "create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": variants})
    )
    try:
        kind_of = _nodes(cluster)
        assert kind_of["h100nvl-0"] == "H100"
        assert kind_of["a100-40g-0"] == "A100"
        assert kind_of["rtx4090-0"] == "RTX4090"
        assert kind_of["l4-0"] == "L4"
        pods: list[dict[str, Any]] = []
        expected: dict[str, str | None] = {}
        for i, path in enumerate(EXAMPLES):
            body = yaml.safe_load(path.read_text())
            body["metadata"]["namespace"] = namespace
            scd = SeedCoderDeployment.parse(live(body))
            engines = plan_engines(scd.spec)
            for pe in engines:
                # One Triton pod per node, pinned there by the pool's own nodeSelector (which the
                # operator must keep): it must schedule exactly on the nodes of its architecture.
                for node, kind in sorted(kind_of.items()):
                    pinned = pe.pool.model_copy(update={"node_selector": {HOSTNAME: node}})
                    dep = deployment(
                        instance=f"e{i}",
                        namespace=namespace,
                        pool=pinned,
                        profile=pe.profile,
                        key=pe.key,
                        cache_claim=scd.spec.engine.cache.pvc.claim_name,
                        replicas=1,
                        image=pe.image,
                        images=choose(SETTINGS, scd.spec.images),
                    )
                    name = f"e{i}-{pe.pool.name}-{node}"
                    pods.append(_pod(name, namespace, dep["spec"]["template"]["spec"]))
                    expected[name] = node if kind == pe.profile.gpu else None
            for pe in {pe.key: pe for pe in engines}.values():
                job = build_job(scd.spec, pe, namespace, SETTINGS)
                name = f"e{i}-build-{pe.profile.arch}"
                pods.append(_pod(name, namespace, job["spec"]["template"]["spec"]))
                expected[name] = pe.profile.gpu  # any node of that kind
        cluster.kubectl(
            "create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": pods})
        )
        got = _wait(cluster, namespace, expected)
        assert set(got) >= set(expected), f"undecided pods: {sorted(set(expected) - set(got))}"
        for name, want in expected.items():
            if "-build-" in name:
                bound = got[name]
                assert bound is not None, name
                assert kind_of[bound] == want, (name, bound)
            else:
                assert got[name] == want, (name, got[name], WHY.get(name))
        # every variant node took the pods of its kind
        assert any(got[n] == "h100nvl-0" for n in expected)
        assert any(got[n] == "a100-40g-0" for n in expected)
    finally:
        for node in variants:
            cluster.kubectl(
                "delete", "node", node["metadata"]["name"], "--ignore-not-found", "--wait=false", check=False
            )

"""The simulated GPU pools behave like real ones to the scheduler.

Why: the operator places engine builds and Triton replicas by GPU product;
these tests prove the local cluster gives that placement real consequences
(extended resources, product labels, the GPU taint) before operator tests
rely on it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from seedcoder_dev.devcluster import Cluster
from seedcoder_dev.devcluster.nodes import (
    A100_PRODUCT,
    GPU_TOLERATION,
    H100_PRODUCT,
    L4_PRODUCT,
    RTX4090_PRODUCT,
)
from seedcoder_dev.devcluster.tools import node_images

pytestmark = pytest.mark.cluster


def _deployment(
    name: str, *, replicas: int, gpus: int, product: str | None, tolerate: bool
) -> dict[str, Any]:
    # GPU pods run on KWOK nodes (any image name will do); a pod that may land on the real
    # CPU node runs the node's own test server image, which is there without a registry.
    image = "registry.invalid/none:1" if gpus else node_images()["echoserver"].ref
    pod_spec: dict[str, Any] = {
        "containers": [
            {
                "name": "main",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "resources": {"limits": {"nvidia.com/gpu": str(gpus)}} if gpus else {},
            }
        ]
    }
    if product:
        pod_spec["nodeSelector"] = {"nvidia.com/gpu.product": product}
    if tolerate:
        pod_spec["tolerations"] = [GPU_TOLERATION]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec},
        },
    }


def _pod_nodes(cluster: Cluster, namespace: str, app: str) -> list[str]:
    pods = json.loads(
        cluster.kubectl("get", "pods", "-n", namespace, "-l", f"app={app}", "-o", "json").stdout
    )
    return [p["spec"].get("nodeName", "") for p in pods["items"]]


def test_nine_nodes_with_gpu_capacity_labels_and_taints(cluster: Cluster) -> None:
    nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    by_name = {n["metadata"]["name"]: n for n in nodes}
    assert sorted(by_name) == [
        "a100-0", "a100-1", "cpu-0", "cpusim-0", "h100-0", "h100-1", "l4-0", "rtx4090-0", "rtx4090-1"
    ]  # fmt: skip
    for name, node in by_name.items():
        labels, status = node["metadata"]["labels"], node["status"]
        ready = {c["type"]: c["status"] for c in status["conditions"]}["Ready"]
        assert ready == "True", name
        assert labels["node-pool"] == name.split("-")[0]
        taints = node["spec"].get("taints", [])
        if name.startswith("cpu"):
            assert "nvidia.com/gpu" not in status["allocatable"]
            assert "nvidia.com/gpu.product" not in labels
            # the simulated CPU node takes only the pods of namespaces kept on simulated nodes
            expected = [] if name == "cpu-0" else [("seedcoder.dev/simulated", "true", "NoSchedule")]
            assert [(t["key"], t.get("value"), t["effect"]) for t in taints] == expected
        elif name.startswith(("rtx4090", "l4")):
            # consumer cards: one 24 GB GPU per node, labelled as GPU Feature Discovery does
            product, memory = (RTX4090_PRODUCT, "24564") if name.startswith("rtx") else (L4_PRODUCT, "23034")
            assert labels["nvidia.com/gpu.product"] == product
            assert labels["nvidia.com/gpu.count"] == "1"
            assert (labels["nvidia.com/gpu.compute.major"], labels["nvidia.com/gpu.compute.minor"]) == (
                "8",
                "9",
            )
            assert labels["nvidia.com/gpu.memory"] == memory
            assert status["allocatable"]["nvidia.com/gpu"] == "1"
            assert [(t["key"], t["value"], t["effect"]) for t in taints] == [
                ("nvidia.com/gpu", "present", "NoSchedule")
            ]
        else:
            product = H100_PRODUCT if name.startswith("h100") else A100_PRODUCT
            assert labels["nvidia.com/gpu.product"] == product
            assert labels["nvidia.com/gpu.count"] == "8"
            assert status["capacity"]["nvidia.com/gpu"] == "8"
            assert status["allocatable"]["nvidia.com/gpu"] == "8"
            assert [(t["key"], t["value"], t["effect"]) for t in taints] == [
                ("nvidia.com/gpu", "present", "NoSchedule")
            ]


@pytest.mark.parametrize(("product", "pool"), [(H100_PRODUCT, "h100"), (A100_PRODUCT, "a100")])
def test_gpu_deployment_lands_on_its_product_and_becomes_available(
    cluster: Cluster, namespace: str, product: str, pool: str
) -> None:
    manifest = _deployment("triton", replicas=2, gpus=1, product=product, tolerate=True)
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(manifest))
    cluster.kubectl(
        "wait", "-n", namespace, "--for=condition=Available", "deployment/triton", "--timeout=60s"
    )
    nodes = _pod_nodes(cluster, namespace, "triton")
    assert len(nodes) == 2
    assert all(n.startswith(f"{pool}-") for n in nodes), nodes
    status = json.loads(cluster.kubectl("get", "-n", namespace, "deployment/triton", "-o", "json").stdout)
    assert status["status"]["availableReplicas"] == 2


def test_more_gpus_than_a_node_has_stays_pending(cluster: Cluster, namespace: str) -> None:
    manifest = _deployment("greedy", replicas=1, gpus=9, product=H100_PRODUCT, tolerate=True)
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(manifest))
    cluster.kubectl(
        "wait", "-n", namespace, "pod", "-l", "app=greedy", "--timeout=60s",
        "--for=jsonpath={.status.conditions[?(@.type=='PodScheduled')].reason}=Unschedulable",
    )  # fmt: skip


def test_pods_without_the_toleration_never_land_on_gpu_nodes(cluster: Cluster, namespace: str) -> None:
    cpu_only = _deployment("web", replicas=4, gpus=0, product=None, tolerate=False)
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(cpu_only))
    cluster.kubectl("wait", "-n", namespace, "--for=condition=Available", "deployment/web", "--timeout=60s")
    # The test's namespace keeps pods on simulated nodes: the simulated CPU node.
    assert _pod_nodes(cluster, namespace, "web") == ["cpusim-0"] * 4

    wants_gpu = _deployment("intolerant", replicas=1, gpus=1, product=H100_PRODUCT, tolerate=False)
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(wants_gpu))
    cluster.kubectl(
        "wait", "-n", namespace, "pod", "-l", "app=intolerant", "--timeout=60s",
        "--for=jsonpath={.status.conditions[?(@.type=='PodScheduled')].reason}=Unschedulable",
    )  # fmt: skip
    pod = json.loads(
        cluster.kubectl("get", "pods", "-n", namespace, "-l", "app=intolerant", "-o", "json").stdout
    )
    (item,) = pod["items"]
    assert "nodeName" not in item["spec"]
    message = next(c["message"] for c in item["status"]["conditions"] if c["type"] == "PodScheduled")
    assert "untolerated taint" in message

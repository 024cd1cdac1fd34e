"""24 GB consumer cards on the real control plane: the memory check at admission, and placement.

Why on the cluster: the memory check is part of the operator's validation path (a
resource the CRD accepts but that cannot fit becomes ``Ready=False, InvalidSpec``),
and the RTX 4090 / L4 pools share an architecture (sm89) with the L40S: only the
real scheduler shows that the memory-range match keeps each pool on its own cards.
The local cluster simulates two single-GPU RTX 4090 nodes and one L4 node, labelled as
GPU Feature Discovery labels them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from seedcoder.images import default_image
from seedcoder_dev.devcluster import Cluster
from seedcoder_dev.devcluster.nodes import L4_PRODUCT, RTX4090_PRODUCT

from tests.operator.harness import OperatorProcess, apply, kubectl_json, wait_for
from tests.operator.sample import sample
from tests.operator.test_cluster_lifecycle import build_jobs, condition, node_product, scd, wait_ready

pytestmark = pytest.mark.cluster


def _pods(cluster: Cluster, ns: str, selector: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kubectl_json(cluster, "get", "pods", "-n", ns, "-l", selector)["items"]
    return items


def test_fp16_on_a_24gb_card_is_refused_by_how_much_and_int4_awq_serves(
    cluster: Cluster, namespace: str, start_operator: Callable[..., OperatorProcess]
) -> None:
    start_operator(resync="2")
    body = sample(
        name="team",
        namespace=namespace,
        engine={"precision": "fp16", "cache": {"pvc": {"claimName": "engine-cache"}}},
        pools=[{"name": "rtx", "gpu": "RTX4090", "minReplicas": 2, "maxReplicas": 2}],
    )
    apply(cluster, body)

    def invalid() -> dict[str, Any] | None:
        c = condition(scd(cluster, namespace, "team"), "Ready")
        return c if c and c["reason"] == "InvalidSpec" else None

    ready = wait_for("Ready=False InvalidSpec", invalid, timeout=60)
    assert ready["status"] == "False"
    message = ready["message"]
    assert "spec.engine.precision" in message
    short = re.search(r"short by ([0-9.]+) GiB", message)
    assert short is not None, message
    assert float(short.group(1)) > 1.0, message  # 15.4 GiB of FP16 weights leave far too little KV cache
    assert build_jobs(cluster, namespace) == [], "no GPU time spent on an engine that cannot fit"

    # the same team with INT4 AWQ: accepted, built, served on the RTX 4090 nodes, its KV budget stated
    body["spec"]["engine"]["precision"] = "int4-awq"
    apply(cluster, body)
    obj = wait_ready(cluster, namespace, "team")
    (engine,) = obj["status"]["engines"]
    assert (engine["gpu"], engine["arch"], engine["precision"]) == ("RTX4090", "sm89", "int4-awq")
    budget = re.search(r"KV cache ([0-9.]+) GiB = ([0-9]+) tokens", engine["memory"])
    assert budget is not None, engine["memory"]
    assert float(budget.group(1)) > 10.0, engine["memory"]
    assert int(budget.group(2)) > 80_000, engine["memory"]
    assert engine["memory"].endswith("fits"), engine["memory"]
    pods = _pods(cluster, namespace, "app.kubernetes.io/component=triton,seedcoder.dev/pool=rtx")
    assert len(pods) == 2
    assert {node_product(cluster, p["spec"]["nodeName"]) for p in pods} == {RTX4090_PRODUCT}
    assert len({p["spec"]["nodeName"] for p in pods}) == 2, "one GPU per node: one replica per node"


def test_l4_tensorrt_and_rtx4090_llamacpp_pools_land_on_their_own_cards(
    cluster: Cluster, namespace: str, start_operator: Callable[..., OperatorProcess]
) -> None:
    start_operator(resync="2")
    body = sample(
        name="mixed",
        namespace=namespace,
        engine={"precision": "auto", "maxInputLen": 4096, "cache": {"pvc": {"claimName": "engine-cache"}}},
        pools=[
            {"name": "l4", "gpu": "L4", "minReplicas": 1, "maxReplicas": 1},
            {
                "name": "gguf",
                "gpu": "RTX4090",
                "runtime": "llamacpp",
                "precision": "gguf-q4_k_m",
                "minReplicas": 1,
                "maxReplicas": 1,
            },
        ],
        gateway={"replicas": 1, "maxContextTokens": 4096, "apiKeySecretRef": {"name": "seedcoder-keys"}},
    )
    apply(cluster, body)
    obj = wait_ready(cluster, namespace, "mixed")
    by_pool = {e["pools"][0]: e for e in obj["status"]["engines"]}
    assert by_pool["l4"]["precision"] == "int4-awq"
    assert by_pool["gguf"]["precision"] == "gguf-q4_k_m"
    assert "memory" not in by_pool["gguf"] or by_pool["gguf"]["memory"] is None  # llama.cpp: no TRT budget
    cuda_image = default_image("triton-llamacpp-cuda").reference
    for pool, product, image in (
        ("l4", L4_PRODUCT, default_image("triton-trtllm").reference),
        ("gguf", RTX4090_PRODUCT, cuda_image),
    ):
        pods = _pods(cluster, namespace, f"app.kubernetes.io/component=triton,seedcoder.dev/pool={pool}")
        assert pods, pool
        for pod in pods:
            assert node_product(cluster, pod["spec"]["nodeName"]) == product, pool
            container = pod["spec"]["containers"][0]
            assert container["image"] == image, pool
            assert container["resources"]["limits"]["nvidia.com/gpu"] == "1", pool
    # both builds ran on their own kind of card (the llama.cpp one in the CUDA image)
    jobs = {j["metadata"]["name"]: j for j in build_jobs(cluster, namespace)}
    assert len(jobs) == 2
    images = set()
    for name, job in jobs.items():
        images.add(job["spec"]["template"]["spec"]["containers"][0]["image"])
        for pod in _pods(cluster, namespace, f"batch.kubernetes.io/job-name={name}"):
            assert node_product(cluster, pod["spec"]["nodeName"]) in (L4_PRODUCT, RTX4090_PRODUCT)
    assert cuda_image in images

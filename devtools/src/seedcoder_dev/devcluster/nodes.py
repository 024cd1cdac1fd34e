"""The node pools: H100, A100, RTX 4090 and L4 nodes (simulated) and a real CPU node.

Why: the operator places engine builds and Triton replicas per GPU product,
so the local cluster needs GPU nodes that look like the real ones to the
scheduler: ``nvidia.com/gpu`` capacity, GPU-feature-discovery labels and the
``nvidia.com/gpu=present:NoSchedule`` taint of managed GPU pools. KWOK keeps
these nodes Ready (they carry its ``kwok.x-k8s.io/node: fake`` annotation).
The CPU node ``cpu-0`` is a real kubelet (``realnode.py``): its Node object is
created here with the pool's labels and a fixed pod CIDR, without the KWOK
annotation, and the kubelet registers into it and reports its real capacity.

The consumer-card pools (RTX 4090, L4) are what small teams run: one 24 GB GPU per
node, no MIG, no NVLink, labelled as GPU Feature Discovery labels them (product,
compute capability 8.9, memory in MiB as the driver reports it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GPU_RESOURCE = "nvidia.com/gpu"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
GPU_COUNT_LABEL = "nvidia.com/gpu.count"
COMPUTE_MAJOR_LABEL = "nvidia.com/gpu.compute.major"
COMPUTE_MINOR_LABEL = "nvidia.com/gpu.compute.minor"
MEMORY_LABEL = "nvidia.com/gpu.memory"
POOL_LABEL = "node-pool"
GPU_TAINT = {"key": GPU_RESOURCE, "value": "present", "effect": "NoSchedule"}
GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Equal", "value": "present", "effect": "NoSchedule"}

H100_PRODUCT = "NVIDIA-H100-80GB-HBM3"
A100_PRODUCT = "NVIDIA-A100-SXM4-80GB"
RTX4090_PRODUCT = "NVIDIA-GeForce-RTX-4090"
L4_PRODUCT = "NVIDIA-L4"


@dataclass(frozen=True)
class Pool:
    """One node pool: how many nodes, and the GPU product they carry (None for CPU nodes)."""

    name: str
    nodes: int
    gpu_product: str | None
    gpus_per_node: int
    cpu: str
    memory: str
    compute: str | None = None
    """GPU Feature Discovery's compute capability labels (major.minor), when the pool has them."""
    real: bool = False
    memory_mib: int | None = None
    """GPU Feature Discovery's nvidia.com/gpu.memory (MiB), when the pool has it."""
    pods: int = 110
    """Pod capacity (the kubelet's default)."""


POOLS = (
    Pool("h100", 2, H100_PRODUCT, 8, "208", "1800Gi"),
    Pool("a100", 2, A100_PRODUCT, 8, "128", "1000Gi"),
    Pool("cpu", 1, None, 0, "32", "128Gi", real=True),
    Pool("cpusim", 1, None, 0, "32", "128Gi", pods=250),
    Pool("rtx4090", 2, RTX4090_PRODUCT, 1, "16", "64Gi", compute="8.9", memory_mib=24564),
    Pool("l4", 1, L4_PRODUCT, 1, "16", "64Gi", compute="8.9", memory_mib=23034),
)
"""``cpu-0`` is the real node; ``cpusim-0`` a simulated CPU node for the pods of
resources whose GPU pools are simulated (their gateways could never become Ready
for real: no Triton answers behind a simulated pool). It stands for a cluster's
CPU nodes, so it holds more pods than one kubelet would (the operator benchmark
runs 110 gateways there)."""

SIMULATED_LABEL = "seedcoder.dev/simulated"
"""Set to "true" on every simulated (KWOK) node."""
SIMULATED_TAINT = {"key": SIMULATED_LABEL, "value": "true", "effect": "NoSchedule"}
"""On the simulated CPU node: only pods of simulated namespaces land there."""
SIMULATED_NAMESPACE = {
    "scheduler.alpha.kubernetes.io/node-selector": f"{SIMULATED_LABEL}=true",
    "scheduler.alpha.kubernetes.io/defaultTolerations": (
        f'[{{"key": "{SIMULATED_LABEL}", "operator": "Exists", "effect": "NoSchedule"}}]'
    ),
}
"""Annotations of a namespace whose pods must all land on simulated nodes (the
apiserver's PodNodeSelector and PodTolerationRestriction admission add the node
selector and the simulated node's toleration to every pod there). Pods of other
namespaces can only land on the real ``cpu-0`` (or tolerate a GPU taint)."""

REAL_NODE = "cpu-0"
REAL_NODE_POD_CIDR = "10.244.0.0/24"
# Pod IPs KWOK hands out on the simulated nodes: disjoint from the real node's CIDR.
KWOK_POD_CIDR = "10.244.128.0/17"


def simulated_placement() -> dict[str, Any]:
    """Pod spec fields that put a pod on a simulated node, where KWOK plays its lifecycle.

    Pods without a GPU toleration land on the real ``cpu-0`` and really run their image;
    tests of KWOK's stages (Job completion, chaos failures, delays) pin their pods here.
    """
    return {"nodeSelector": {POOL_LABEL: "a100"}, "tolerations": [dict(GPU_TOLERATION)]}


VARIANTS = (
    Pool("h100nvl", 1, "NVIDIA-H100-NVL", 8, "128", "1000Gi", compute="9.0"),
    Pool("a100-40g", 1, "NVIDIA-A100-SXM4-40GB", 8, "128", "1000Gi", compute="8.0"),
)
"""Other variants of the same architectures (not started by default): tests that check
placement by architecture add them (:func:`variant_manifests`) and remove them after."""


def node_names() -> list[str]:
    return [f"{pool.name}-{i}" for pool in POOLS for i in range(pool.nodes)]


def _node(pool: Pool, index: int, *, real: bool) -> dict[str, Any]:
    name = f"{pool.name}-{index}"
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        POOL_LABEL: pool.name,
    }
    if not real:
        labels["type"] = "kwok"
        labels[SIMULATED_LABEL] = "true"
    resources = {"cpu": pool.cpu, "memory": pool.memory, "pods": str(pool.pods), "ephemeral-storage": "10Ti"}
    spec: dict[str, Any] = {}
    if real:
        # The kubelet registers into this object and reports status and capacity itself.
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": labels},
            "spec": {"podCIDR": REAL_NODE_POD_CIDR, "podCIDRs": [REAL_NODE_POD_CIDR]},
        }
    if pool.gpu_product:
        labels[GPU_PRODUCT_LABEL] = pool.gpu_product
        labels[GPU_COUNT_LABEL] = str(pool.gpus_per_node)
        if pool.compute:
            labels[COMPUTE_MAJOR_LABEL], labels[COMPUTE_MINOR_LABEL] = pool.compute.split(".")
        if pool.memory_mib:
            labels[MEMORY_LABEL] = str(pool.memory_mib)
        labels["node.kubernetes.io/instance-type"] = f"gpu-{pool.name}-{pool.gpus_per_node}x"
        resources[GPU_RESOURCE] = str(pool.gpus_per_node)
        spec["taints"] = [dict(GPU_TAINT)]
    elif not real:
        spec["taints"] = [dict(SIMULATED_TAINT)]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": labels,
        },
        "spec": spec,
        "status": {
            "capacity": dict(resources),
            "allocatable": dict(resources),
            "phase": "Running",
        },
    }


def manifests(*, real_cpu_node: bool = True) -> list[dict[str, Any]]:
    """Every Node: the simulated ones with their status (capacity) set at creation, the real one bare.

    ``real_cpu_node=False`` makes ``cpu-0`` a KWOK node too (machines where the real node cannot run).
    """
    return [_node(pool, i, real=pool.real and real_cpu_node) for pool in POOLS for i in range(pool.nodes)]


def variant_manifests() -> list[dict[str, Any]]:
    """The Nodes of :data:`VARIANTS` (an H100 NVL and an A100 40 GB node)."""
    return [_node(pool, i, real=False) for pool in VARIANTS for i in range(pool.nodes)]

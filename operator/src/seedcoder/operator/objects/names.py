"""Deterministic names and labels of everything the operator creates.

Why: idempotent reconciles need the name of a child to follow from the resource
alone (never from a random suffix), and the engine build Job's name follows from
the engine key only, so two resources or two pools that need the same engine find
the same Job. Labels follow the ``app.kubernetes.io`` recommendations.
"""

from __future__ import annotations

from typing import Final

LABEL_NAME: Final = "app.kubernetes.io/name"
LABEL_INSTANCE: Final = "app.kubernetes.io/instance"
LABEL_COMPONENT: Final = "app.kubernetes.io/component"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
LABEL_POOL: Final = "seedcoder.dev/pool"
LABEL_ENGINE_KEY: Final = "seedcoder.dev/engine-key"
LABEL_ARCH: Final = "seedcoder.dev/arch"
ANNOTATION_HASH: Final = "seedcoder.dev/desired-hash"
"""Hash of the applied manifest: equal to the desired one's means nothing to write."""
ANNOTATION_ENGINE: Final = "seedcoder.dev/engine"
ANNOTATION_CONFIG_CHECKSUM: Final = "seedcoder.dev/config-checksum"
"""On the gateway's pod template: hash of its rendered configuration, so a change rolls the pods."""

APP: Final = "seedcoder"
MANAGED_BY: Final = "seedcoder-operator"
COMPONENT_TRITON: Final = "triton"
COMPONENT_GATEWAY: Final = "gateway"
COMPONENT_BUILD: Final = "engine-build"
COMPONENT_CANARY: Final = "triton-canary"
"""A pool's new engine on one replica, evaluated before it takes traffic (``engine_gate``)."""
COMPONENT_GATE: Final = "engine-gate"
"""The evaluation Job of the engine gate."""

GPU_RESOURCE: Final = "nvidia.com/gpu"
GPU_PRODUCT_LABEL: Final = "nvidia.com/gpu.product"


def instance_labels(instance: str, component: str) -> dict[str, str]:
    """Labels of one resource's objects of one component."""
    return {
        LABEL_NAME: APP,
        LABEL_INSTANCE: instance,
        LABEL_COMPONENT: component,
        LABEL_MANAGED_BY: MANAGED_BY,
    }


def instance_selector(instance: str) -> str:
    """Label selector of everything one resource owns."""
    return f"{LABEL_INSTANCE}={instance},{LABEL_MANAGED_BY}={MANAGED_BY}"


BUILD_SELECTOR: Final = f"{LABEL_COMPONENT}={COMPONENT_BUILD},{LABEL_MANAGED_BY}={MANAGED_BY}"


def build_job(key: str) -> str:
    return f"seedcoder-engine-{key}"


def triton(instance: str, pool: str) -> str:
    return f"{instance}-triton-{pool}"


def gateway(instance: str) -> str:
    return f"{instance}-gateway"


def netpol(instance: str, what: str) -> str:
    return f"{instance}-{what}"

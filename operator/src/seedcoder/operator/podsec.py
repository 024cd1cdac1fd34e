"""Security contexts and scheduling bits shared by every pod the operator creates.

Why one place: every pod must pass the ``restricted`` Pod Security profile
(non-root, no privilege escalation, all capabilities dropped, RuntimeDefault
seccomp), and GPU pods must land on the right product and tolerate the GPU taint;
writing that once keeps Triton, the gateway and the build Jobs identical in it.
"""

from __future__ import annotations

from typing import Any

from seedcoder.engines.profiles import GpuProfile
from seedcoder.operator import names

Manifest = dict[str, Any]
RUN_AS = 1000


def pod_security() -> Manifest:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "fsGroup": RUN_AS,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security() -> Manifest:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def gpu_count(profile: GpuProfile) -> int:
    """GPUs one pod of this profile requests (an 8B model fits on one 80 GB or 48 GB GPU)."""
    return 0 if profile.product_label is None else 1


def gpu_node_selector(profile: GpuProfile) -> dict[str, str]:
    if profile.product_label is None:
        return {}
    return {names.GPU_PRODUCT_LABEL: profile.product_label}


def gpu_tolerations(profile: GpuProfile) -> list[Manifest]:
    if profile.product_label is None:
        return []
    return [{"key": names.GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]

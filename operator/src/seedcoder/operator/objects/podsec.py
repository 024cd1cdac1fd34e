"""Security contexts and scheduling bits shared by every pod the operator creates.

Why one place: every pod must pass the ``restricted`` Pod Security profile
(non-root, no privilege escalation, all capabilities dropped, RuntimeDefault
seccomp); writing that once keeps Triton, the gateway and the build Jobs identical
in it. Where GPU pods may run is decided in ``placement``.
"""

from __future__ import annotations

from typing import Any

from seedcoder.engines.profiles import GpuProfile

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


def spread_over_nodes(selector: dict[str, str]) -> list[Manifest]:
    """Replicas spread over nodes where they can be (one node lost takes one replica), never held Pending."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector},
        }
    ]


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

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


TERMINATION_LOG = "/dev/termination-log"


def run_to_completion(container: Manifest, volumes: list[Manifest]) -> Manifest:
    """The pod spec of a Job that runs one program to its end and reports through its termination
    message (the kubelet keeps up to 4 KiB of it, or the log's tail when the program fails):
    restricted security, no service account token or service links, and a writable ``/tmp`` (the
    root filesystem is read-only)."""
    c = {
        **container,
        "securityContext": container_security(),
        "terminationMessagePath": TERMINATION_LOG,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [*container.get("volumeMounts", []), {"name": "tmp", "mountPath": "/tmp"}],
    }
    return {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security(),
        "containers": [c],
        "volumes": [*volumes, {"name": "tmp", "emptyDir": {}}],
    }


def gpu_count(profile: GpuProfile) -> int:
    """GPUs one pod of this profile requests (an 8B model fits on one 80 GB or 48 GB GPU)."""
    return 0 if profile.product_label is None else 1

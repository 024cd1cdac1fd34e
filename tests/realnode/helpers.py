"""Small builders and waits shared by the real-node tests.

Why: every test here runs real containers from the node's own images (no
registry), so pods are built the same way: the image by role from
``make nodebins``, ``imagePullPolicy: Never``, pinned to ``cpu-0``, and a
restricted security context.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from seedcoder_dev.devcluster import Cluster
from seedcoder_dev.devcluster.nodes import REAL_NODE
from seedcoder_dev.devcluster.tools import node_images


def image(role: str) -> str:
    return node_images()[role].ref


def echo_pod(
    name: str, *, labels: dict[str, str] | None = None, args: list[str] | None = None
) -> dict[str, Any]:
    """A pod running the test HTTP server (or, with ``args``, its one-shot client)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": name}},
        "spec": {
            "nodeName": REAL_NODE,
            "restartPolicy": "Never" if args else "Always",
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "main",
                    "image": image("echoserver"),
                    "imagePullPolicy": "Never",
                    "args": args or [],
                    "ports": [] if args else [{"containerPort": 8080, "name": "http"}],
                    "securityContext": {
                        "runAsNonRoot": True,
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }


def apply(cluster: Cluster, namespace: str, *objects: dict[str, Any]) -> None:
    items = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(items))


def pod(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    result: dict[str, Any] = cluster.api_get(f"/api/v1/namespaces/{namespace}/pods/{name}")
    return result


def wait_ready(cluster: Cluster, namespace: str, *names: str, timeout: str = "60s") -> None:
    cluster.kubectl(
        "wait", "-n", namespace, "--for=condition=Ready", f"--timeout={timeout}", *[f"pod/{n}" for n in names]
    )


def wait_phase(cluster: Cluster, namespace: str, name: str, phases: set[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        phase = str(pod(cluster, namespace, name).get("status", {}).get("phase", ""))
        if phase in phases:
            return phase
        if time.monotonic() > deadline:
            raise AssertionError(f"pod {namespace}/{name} stayed {phase!r}, expected one of {sorted(phases)}")
        time.sleep(0.3)


def eventually(check: Callable[[], bool], *, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.5)

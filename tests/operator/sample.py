"""A valid sample SeedCoderDeployment, and variations of it, for tests.

Why a builder: tests that need "a resource that works, except ..." start from
one known-good manifest and change one field, so every invalid case names
exactly what is wrong with it.
"""

from __future__ import annotations

import copy
from typing import Any

REVISION = "4b2a6e1c9d0f3e5a7b8c9d0e1f2a3b4c5d6e7f80"


def sample(name: str = "completions", namespace: str = "ml", **spec_overrides: Any) -> dict[str, Any]:
    """An H100 + A100 deployment with API keys and a PVC model source."""
    spec: dict[str, Any] = {
        "model": {
            "name": "ByteDance-Seed/Seed-Coder-8B-Base",
            "revision": REVISION,
            "source": {"pvc": {"claimName": "models", "path": "seed-coder-8b-base"}},
        },
        "engine": {"precision": "auto", "cache": {"pvc": {"claimName": "engine-cache"}}},
        "pools": [
            {"name": "h100", "gpu": "H100", "minReplicas": 1, "maxReplicas": 4},
            {"name": "a100", "gpu": "A100", "minReplicas": 1, "maxReplicas": 2},
        ],
        "slo": {"ttftP95Ms": 300, "windowMinutes": 5},
        "autoscaling": {"mode": "fixed"},
        "gateway": {"replicas": 2, "maxContextTokens": 8192, "apiKeySecretRef": {"name": "seedcoder-keys"}},
        "network": {
            "allowedNamespaces": ["dev-tools"],
            "allowedCIDRs": ["10.0.0.0/8"],
            "exposure": "ClusterIP",
        },
    }
    spec.update(copy.deepcopy(spec_overrides))
    return {
        "apiVersion": "seedcoder.dev/v1alpha1",
        "kind": "SeedCoderDeployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def with_path(manifest: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy with the dotted ``path`` under ``spec`` set (``pools.0.gpu``); ``...`` deletes it."""
    out = copy.deepcopy(manifest)
    node: Any = out["spec"]
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    last = parts[-1]
    if value is ...:
        if isinstance(node, list):
            node.pop(int(last))
        else:
            node.pop(last, None)
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out


def live(
    manifest: dict[str, Any], uid: str = "0f6c1d3e-0000-4000-8000-000000000001", generation: int = 1
) -> dict[str, Any]:
    """The manifest as the API server would return it (uid, generation), for pure tests."""
    out = copy.deepcopy(manifest)
    out["metadata"].update({"uid": uid, "generation": generation, "resourceVersion": "1"})
    return out

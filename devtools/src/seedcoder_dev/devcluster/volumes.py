"""Pre-bound volumes for the simulated cluster.

Why: the simulated nodes have no storage provisioner, so a pod that mounts a
claim would stay Pending forever. A PersistentVolume bound to its claim up front
lets the scheduler place such pods; the demo and the tests both need it for the
model and engine-cache claims a SeedCoderDeployment names.
"""

from __future__ import annotations

from typing import Any


def prebound_claim(
    namespace: str, claim: str, size: str = "100Gi", *, host_path: str | None = None, node: str | None = None
) -> list[dict[str, Any]]:
    """A ReadWriteMany PersistentVolume and the claim ``namespace/claim`` bound to it.

    ``host_path`` (an existing folder) and ``node`` pin the volume to a real node's
    folder; without them it is a placeholder for the simulated nodes.
    """
    pv = f"{namespace}-{claim}"[:63]
    spec: dict[str, Any] = {
        "capacity": {"storage": size},
        "accessModes": ["ReadWriteMany"],
        "persistentVolumeReclaimPolicy": "Retain",
        "storageClassName": "",
        "hostPath": {"path": host_path, "type": "Directory"} if host_path else {"path": f"/srv/{pv}"},
        "claimRef": {"namespace": namespace, "name": claim},
    }
    if node:
        term = {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [term]}}
    return [
        {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv}, "spec": spec},
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": claim, "namespace": namespace},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "storageClassName": "",
                "volumeName": pv,
                "resources": {"requests": {"storage": size}},
            },
        },
    ]

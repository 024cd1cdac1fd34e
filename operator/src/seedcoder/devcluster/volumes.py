"""Pre-bound volumes for the simulated cluster.

Why: the simulated nodes have no storage provisioner, so a pod that mounts a
claim would stay Pending forever. A PersistentVolume bound to its claim up front
lets the scheduler place such pods; the demo and the tests both need it for the
model and engine-cache claims a SeedCoderDeployment names.
"""

from __future__ import annotations

from typing import Any


def prebound_claim(namespace: str, claim: str, size: str = "100Gi") -> list[dict[str, Any]]:
    """A ReadWriteMany PersistentVolume and the claim ``namespace/claim`` bound to it."""
    pv = f"{namespace}-{claim}"[:63]
    return [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": pv},
            "spec": {
                "capacity": {"storage": size},
                "accessModes": ["ReadWriteMany"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": "",
                "hostPath": {"path": f"/srv/{pv}"},
                "claimRef": {"namespace": namespace, "name": claim},
            },
        },
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

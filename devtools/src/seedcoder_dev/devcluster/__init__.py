"""The local Kubernetes control plane for tests and development.

Why: the operator must be tested against a real API server (RBAC, garbage
collection, scheduling onto GPU pools, Jobs), yet without Docker or a cloud.
This package runs real etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and KWOK on loopback, with simulated H100, A100 and CPU nodes.
The pytest fixtures (``tests/fixtures/cluster.py``) and ``make cluster-up`` /
``make cluster-down`` (``python -m seedcoder_dev.devcluster``) both use it.
"""

from __future__ import annotations

from .cluster import Cluster, KubectlError
from .start import LowDiskError, PortInUseError, start_cluster
from .tools import MissingToolError

__all__ = [
    "Cluster",
    "KubectlError",
    "LowDiskError",
    "MissingToolError",
    "PortInUseError",
    "start_cluster",
]

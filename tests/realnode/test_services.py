"""Services on the real node: CoreDNS names, kube-proxy ClusterIPs, nothing outside.

Why: the product's components find each other by Service name; these tests
prove a pod on ``cpu-0`` resolves a Service through the cluster DNS (CoreDNS
behind the ``kube-dns`` ClusterIP) and reaches a backend pod through the
ClusterIP that kube-proxy DNATs, and that a name outside the cluster does not
resolve (CoreDNS has no upstream: no query may leave the machine).
"""

from __future__ import annotations

import pytest
from seedcoder.devcluster import Cluster

from .helpers import apply, echo_pod, wait_phase, wait_ready

pytestmark = pytest.mark.cluster


def _service(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    }


def test_service_name_resolves_and_clusterip_reaches_a_backend(cluster: Cluster, namespace: str) -> None:
    apply(cluster, namespace, echo_pod("backend"), _service("backend"))
    wait_ready(cluster, namespace, "backend")
    url = f"http://backend.{namespace}.svc.cluster.local/via-service"
    apply(cluster, namespace, echo_pod("client", args=["-get", url, "-timeout", "5s"]))
    phase = wait_phase(cluster, namespace, "client", {"Succeeded", "Failed"})
    logs = cluster.kubectl("logs", "-n", namespace, "pod/client").stdout
    assert phase == "Succeeded", logs
    assert logs.strip() == "backend"
    server_logs = cluster.kubectl("logs", "-n", namespace, "pod/backend").stdout
    assert "GET /via-service" in server_logs


def test_names_outside_the_cluster_do_not_resolve(cluster: Cluster, namespace: str) -> None:
    apply(cluster, namespace, echo_pod("outside", args=["-get", "http://example.com/", "-timeout", "5s"]))
    assert wait_phase(cluster, namespace, "outside", {"Succeeded", "Failed"}) == "Failed"
    logs = cluster.kubectl("logs", "-n", namespace, "pod/outside").stdout
    assert "example.com" in logs, logs
    assert "no such host" in logs or "server misbehaving" in logs, logs

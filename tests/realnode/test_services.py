"""Services on the real node: CoreDNS names, kube-proxy ClusterIPs, nothing outside.

Why: the product's components find each other by Service name; these tests
prove a pod on ``cpu-0`` resolves a Service through the cluster DNS (CoreDNS
behind the ``kube-dns`` ClusterIP) and reaches a backend pod through the
ClusterIP that kube-proxy DNATs, and that a name outside the cluster does not
resolve (CoreDNS has no upstream: no query may leave the machine).
"""

from __future__ import annotations

import json
import time

import pytest
from seedcoder_dev.devcluster import Cluster

from .helpers import apply, echo_pod, eventually, wait_phase, wait_ready

pytestmark = pytest.mark.cluster


def _service(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    }


def _ready_endpoints(cluster: Cluster, namespace: str, service: str) -> int:
    out = cluster.kubectl(
        "get", "endpointslices", "-n", namespace, "-l", f"kubernetes.io/service-name={service}", "-o", "json"
    ).stdout
    return sum(
        1
        for s in json.loads(out)["items"]
        for e in s.get("endpoints") or []
        if (e.get("conditions") or {}).get("ready")
    )


def test_service_name_resolves_and_clusterip_reaches_a_backend(cluster: Cluster, namespace: str) -> None:
    apply(cluster, namespace, echo_pod("backend"), _service("backend"))
    wait_ready(cluster, namespace, "backend")
    # the pod is Ready before the EndpointSlice says so and kube-proxy has synced it
    eventually(lambda: _ready_endpoints(cluster, namespace, "backend") == 1, what="a ready endpoint")
    url = f"http://backend.{namespace}.svc.cluster.local/via-service"
    attempts = []
    for n in range(3):  # kube-proxy syncs at most once a second after the slice changes
        name = f"client-{n}"
        apply(cluster, namespace, echo_pod(name, args=["-get", url, "-timeout", "5s"]))
        phase = wait_phase(cluster, namespace, name, {"Succeeded", "Failed"})
        logs = cluster.kubectl("logs", "-n", namespace, f"pod/{name}").stdout
        attempts.append(logs)
        if phase == "Succeeded":
            break
        time.sleep(2)
    assert phase == "Succeeded", attempts
    assert logs.strip() == "backend"
    server_logs = cluster.kubectl("logs", "-n", namespace, "pod/backend").stdout
    assert "GET /via-service" in server_logs


def test_names_outside_the_cluster_do_not_resolve(cluster: Cluster, namespace: str) -> None:
    apply(cluster, namespace, echo_pod("outside", args=["-get", "http://example.com/", "-timeout", "5s"]))
    assert wait_phase(cluster, namespace, "outside", {"Succeeded", "Failed"}) == "Failed"
    logs = cluster.kubectl("logs", "-n", namespace, "pod/outside").stdout
    assert "example.com" in logs, logs
    assert "no such host" in logs or "server misbehaving" in logs, logs

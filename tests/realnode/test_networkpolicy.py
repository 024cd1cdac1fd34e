"""NetworkPolicies on the real node, enforced by kube-router's firewall controller.

Why: the product's chart ships NetworkPolicies (only the gateway may reach
Triton, only Prometheus may scrape); the local cluster must enforce them for a
test to mean anything. A default-deny policy must block a client pod, and an
allow rule for the client's namespace must let exactly that namespace through.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from seedcoder_dev.devcluster import Cluster

from .helpers import apply, echo_pod, eventually, pod, wait_ready

pytestmark = pytest.mark.cluster


@pytest.fixture
def other_namespace(cluster: Cluster, namespace: str) -> Iterator[str]:
    name = f"{namespace}-b"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


def _reaches(cluster: Cluster, namespace: str, client: str, url: str) -> bool:
    try:
        result = cluster.kubectl(
            "exec",
            "-n",
            namespace,
            client,
            "--",
            "/echoserver",
            "-get",
            url,
            "-timeout",
            "2s",
            check=False,
            timeout=20,
        )
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


def test_default_deny_blocks_and_namespace_rule_allows(
    cluster: Cluster, namespace: str, other_namespace: str
) -> None:
    server_ns, allowed_ns, denied_ns = namespace, other_namespace, f"{namespace}-c"
    cluster.kubectl("create", "namespace", denied_ns)
    try:
        apply(cluster, server_ns, echo_pod("server"))
        apply(cluster, allowed_ns, echo_pod("client"))
        apply(cluster, denied_ns, echo_pod("client"))
        wait_ready(cluster, server_ns, "server")
        wait_ready(cluster, allowed_ns, "client")
        wait_ready(cluster, denied_ns, "client")
        url = f"http://{pod(cluster, server_ns, 'server')['status']['podIP']}:8080/"
        assert _reaches(cluster, allowed_ns, "client", url)
        assert _reaches(cluster, denied_ns, "client", url)

        deny = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
        }
        apply(cluster, server_ns, deny)
        eventually(lambda: not _reaches(cluster, allowed_ns, "client", url), what="default-deny to block")
        assert not _reaches(cluster, denied_ns, "client", url)

        allow = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "allow-from-b"},
            "spec": {
                "podSelector": {"matchLabels": {"app": "server"}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": allowed_ns}
                                }
                            }
                        ],
                        "ports": [{"port": 8080, "protocol": "TCP"}],
                    }
                ],
            },
        }
        apply(cluster, server_ns, allow)
        eventually(lambda: _reaches(cluster, allowed_ns, "client", url), what="the namespace rule to allow")
        assert not _reaches(cluster, denied_ns, "client", url)
    finally:
        cluster.kubectl("delete", "namespace", denied_ns, "--wait=false", "--ignore-not-found", check=False)

"""``cpu-0`` is a real node: kubelet + containerd registered with the local API server.

Why: tests of the product's CPU components (gateway, operator) run real
containers there; these tests prove the node itself works end to end before
anything relies on it: registration with a node certificate, real pods from
archived images, and the apiserver -> kubelet paths (logs, port-forward, exec).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import urllib.request

import pytest
from seedcoder_dev.devcluster import Cluster
from seedcoder_dev.devcluster.nodeconfig import NODE_IP
from seedcoder_dev.devcluster.nodes import REAL_NODE, REAL_NODE_POD_CIDR
from seedcoder_dev.devcluster.tools import CONTAINERD_VERSION, kubectl_path

from .helpers import apply, echo_pod, pod, wait_ready

pytestmark = pytest.mark.cluster


def test_cpu_0_is_a_ready_real_node_with_kubelet_and_containerd(cluster: Cluster) -> None:
    node = cluster.api_get(f"/api/v1/nodes/{REAL_NODE}")
    info = node["status"]["nodeInfo"]
    assert info["kubeletVersion"] == "v1.36.3"
    assert info["containerRuntimeVersion"] == f"containerd://{CONTAINERD_VERSION.removeprefix('v')}"
    assert "kwok.x-k8s.io/node" not in node["metadata"].get("annotations", {})
    assert node["metadata"]["labels"]["node-pool"] == "cpu"
    assert node["spec"]["podCIDR"] == REAL_NODE_POD_CIDR
    conditions = {c["type"]: c["status"] for c in node["status"]["conditions"]}
    assert conditions["Ready"] == "True"
    assert {"address": NODE_IP, "type": "InternalIP"} in node["status"]["addresses"]
    assert node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 10250


def test_pod_runs_and_kubectl_logs_exec_and_port_forward_reach_it(cluster: Cluster, namespace: str) -> None:
    apply(cluster, namespace, echo_pod("web"))
    wait_ready(cluster, namespace, "web")
    status = pod(cluster, namespace, "web")["status"]
    assert status["phase"] == "Running"
    pod_ip = status["podIP"]
    assert pod_ip.startswith("10.244.0.")
    # The host reaches the pod over the bridge.
    with urllib.request.urlopen(f"http://{pod_ip}:8080/direct", timeout=5) as response:
        assert response.read().decode().strip() == "web"

    # port-forward: apiserver -> kubelet -> containerd's streaming server, into the pod's netns.
    argv = [str(kubectl_path()), f"--kubeconfig={cluster.kubeconfig}", "-n", namespace]
    with subprocess.Popen(
        [*argv, "port-forward", "pod/web", ":8080"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as forward:
        try:
            assert forward.stdout is not None
            line = forward.stdout.readline()
            match = re.search(r"127\.0\.0\.1:(\d+) ->", line)
            assert match, f"unexpected port-forward output: {line!r}"
            url = f"http://127.0.0.1:{match.group(1)}/forwarded"
            with urllib.request.urlopen(url, timeout=5) as response:
                assert response.read().decode().strip() == "web"
        finally:
            forward.terminate()
            forward.wait(timeout=10)

    # exec: the image has no shell; run its own binary as a client of itself.
    out = cluster.kubectl(
        "exec", "-n", namespace, "web", "--", "/echoserver", "-get", "http://127.0.0.1:8080/exec"
    )
    assert out.stdout.strip() == "web"

    # logs: the server logged each request (the port-forwarded one arrives from the pod's loopback).
    deadline = time.monotonic() + 10
    while True:
        logs = cluster.kubectl("logs", "-n", namespace, "pod/web").stdout
        if all(p in logs for p in ("GET /direct", "GET /forwarded", "GET /exec")):
            break
        assert time.monotonic() < deadline, logs
        time.sleep(0.5)


def test_kubelet_serves_only_authenticated_clients(cluster: Cluster) -> None:
    # Anonymous requests are refused (webhook authn/authz, no anonymous access).
    import ssl

    context = ssl.create_default_context(cafile=str(cluster.pki.ca_crt))
    with (
        socket.create_connection((NODE_IP, 10250), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=NODE_IP) as tls,
    ):
        tls.sendall(b"GET /pods HTTP/1.1\r\nHost: cpu-0\r\nConnection: close\r\n\r\n")
        reply = tls.recv(200).decode(errors="replace")
    assert reply.startswith("HTTP/1.1 401"), reply
    # The API server's kubelet client is allowed (node proxy subresource).
    pods = cluster.api_get(f"/api/v1/nodes/{REAL_NODE}/proxy/pods")
    assert json.dumps(pods).count('"kind"') >= 1

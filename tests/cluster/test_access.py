"""Authentication, RBAC and the audit log of the local control plane.

Why: the operator's own ServiceAccount and Role are tested by running it with
a minted token, so RBAC must really deny; and operator tests count the writes
the operator makes, so every write (and no read) must reach the audit log.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from seedcoder_dev.devcluster import Cluster
from seedcoder_dev.devcluster.tools import kubectl_path

pytestmark = pytest.mark.cluster


def _kubectl_as(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [str(kubectl_path()), f"--kubeconfig={kubeconfig}", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def _status_with_token(cluster: Cluster, token: str, path: str) -> int:
    context = ssl.create_default_context(cafile=str(cluster.pki.ca_crt))
    request = urllib.request.Request(f"{cluster.server}{path}", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_service_account_token_is_confined_to_its_role(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    cluster.kubectl("create", "-n", namespace, "serviceaccount", "builder")
    cluster.kubectl(
        "create", "-n", namespace, "role", "cm-reader", "--verb=get,list", "--resource=configmaps"
    )
    cluster.kubectl(
        "create", "-n", namespace, "rolebinding", "builder-reads", "--role=cm-reader",
        f"--serviceaccount={namespace}:builder",
    )  # fmt: skip
    token = cluster.mint_token(namespace, "builder", seconds=600)
    kubeconfig = cluster.kubeconfig_for_token(token, tmp_path / "builder.kubeconfig", namespace=namespace)

    allowed = _kubectl_as(kubeconfig, "get", "configmaps")  # the kubeconfig's namespace
    assert allowed.returncode == 0, allowed.stderr
    assert "kube-root-ca.crt" in allowed.stdout

    for forbidden in (
        ["get", "configmaps", "-n", "kube-system"],
        ["get", "secrets", "-n", namespace],
        ["create", "configmap", "nope", "-n", namespace],
    ):
        denied = _kubectl_as(kubeconfig, *forbidden)
        assert denied.returncode != 0
        assert "is forbidden" in denied.stderr, denied.stderr
        assert f"system:serviceaccount:{namespace}:builder" in denied.stderr

    assert _status_with_token(cluster, token, f"/api/v1/namespaces/{namespace}/configmaps") == 200
    assert _status_with_token(cluster, token, "/api/v1/namespaces/kube-system/configmaps") == 403
    assert _status_with_token(cluster, "not-a-token", f"/api/v1/namespaces/{namespace}/configmaps") == 401

    whoami = json.loads(_kubectl_as(kubeconfig, "auth", "whoami", "-o", "json").stdout)
    assert whoami["status"]["userInfo"]["username"] == f"system:serviceaccount:{namespace}:builder"


def test_audit_log_records_writes_and_no_reads(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("create", "-n", namespace, "configmap", "audited", "--from-literal=k=v")
    cluster.kubectl("patch", "-n", namespace, "configmap/audited", "-p", '{"data":{"k":"w"}}')
    for _ in range(3):
        cluster.kubectl("get", "-n", namespace, "configmap/audited")
    cluster.kubectl("delete", "-n", namespace, "configmap/audited")

    events = [json.loads(line) for line in cluster.audit_log.read_text().splitlines() if line.strip()]
    mine = [
        e for e in events
        if e.get("objectRef", {}).get("namespace") == namespace and e["objectRef"].get("name") == "audited"
    ]  # fmt: skip
    assert [e["verb"] for e in mine] == ["create", "patch", "delete"]
    assert {e["level"] for e in mine} == {"Metadata"}
    assert {e["user"]["username"] for e in mine} == {"kubernetes-admin"}
    assert not any(e["verb"] in {"get", "list", "watch"} for e in events)


def test_admin_api_client_authenticates_with_the_admin_certificate(admin_api: Any) -> None:
    nodes: Any = client.CoreV1Api(admin_api).list_node()
    names = sorted(n.metadata.name for n in nodes.items)
    assert names == [
        "a100-0", "a100-1", "cpu-0", "cpusim-0", "h100-0", "h100-1", "l4-0", "rtx4090-0", "rtx4090-1"
    ]  # fmt: skip
    review: Any = client.AuthenticationV1Api(admin_api).create_self_subject_review(
        client.V1SelfSubjectReview(api_version="authentication.k8s.io/v1", kind="SelfSubjectReview")
    )
    assert review.status.user_info.username == "kubernetes-admin"
    assert "system:masters" in review.status.user_info.groups

"""Install the chart and the plain manifests into the local control plane, and check RBAC.

The operator's Deployment must become Available on the simulated CPU node (KWOK
runs its pod) in a namespace that enforces the restricted Pod Security profile,
and uninstalling must remove every object. The ServiceAccount's permissions are
compared with committed, reviewed snapshots of ``kubectl auth can-i --list``;
set ``SEEDCODER_UPDATE_SNAPSHOTS=1`` to rewrite them after a reviewed rule change.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from seedcoder_dev import install_manifests as im
from seedcoder_dev.devcluster import Cluster
from seedcoder_dev.devcluster.nodes import SIMULATED_NAMESPACE
from seedcoder_dev.devcluster.tools import kubectl_path

from tests.install.conftest import CHART, ROOT, run_helm

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
SNAPSHOTS = Path(__file__).parent / "snapshots"
CHART_OBJECTS = ("deployment", "serviceaccount", "service", "networkpolicy")


def _restricted(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl(
        "label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted", "--overwrite"
    )


def _wait_available(cluster: Cluster, namespace: str, name: str) -> None:
    result = cluster.kubectl(
        "wait",
        "--for=condition=Available",
        f"deployment/{name}",
        "-n",
        namespace,
        "--timeout=120s",
        check=False,
    )
    if result.returncode != 0:
        events = cluster.kubectl("get", "events", "-n", namespace, "-o", "wide", check=False).stdout
        pytest.fail(f"deployment {namespace}/{name} not Available: {result.stderr}\n{events}")
    pods = json.loads(cluster.kubectl("get", "pods", "-n", namespace, "-o", "json").stdout)["items"]
    nodes = {
        p["spec"].get("nodeName")
        for p in pods
        if p["metadata"]["labels"].get("app.kubernetes.io/component") == "operator"
    }
    assert nodes <= {"cpu-0", "cpusim-0"}, f"the operator must run on a CPU node, ran on {nodes}"


def _wait_gone(cluster: Cluster, *args: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = cluster.kubectl("get", *args, "--ignore-not-found", "-o", "name", check=False).stdout.strip()
        if not out:
            return
        time.sleep(0.5)
    pytest.fail(f"still there after {timeout}s: {args}")


@pytest.fixture
def extra_namespaces(cluster: Cluster) -> Iterator[list[str]]:
    names = [f"rbac-{tag}-{uuid.uuid4().hex[:6]}" for tag in ("a", "b", "other")]
    for name in names:
        cluster.kubectl("create", "namespace", name)
    yield names
    for name in names:
        cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


def _as_sa(cluster: Cluster, tmp_path: Path, namespace: str, sa: str) -> Path:
    token = cluster.mint_token(namespace, sa, seconds=600)
    return cluster.kubeconfig_for_token(token, tmp_path / f"{sa}.kubeconfig")


def _kubectl_as(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(kubectl_path()), f"--kubeconfig={kubeconfig}", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _can_i_list(kubeconfig: Path, namespace: str) -> str:
    result = _kubectl_as(kubeconfig, "auth", "can-i", "--list", "-n", namespace)
    assert result.returncode == 0, result.stderr
    lines = [" ".join(line.split()) for line in result.stdout.splitlines() if line.strip()]
    return "\n".join([lines[0], *sorted(lines[1:])]) + "\n"


def _check_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("SEEDCODER_UPDATE_SNAPSHOTS") == "1":
        path.write_text(text)
    assert path.is_file(), f"missing snapshot {path}: review the output and commit it"
    assert text == path.read_text(), f"RBAC changed: review, then SEEDCODER_UPDATE_SNAPSHOTS=1\n{text}"


def _forbidden(kubeconfig: Path, *args: str) -> None:
    result = _kubectl_as(kubeconfig, *args)
    assert result.returncode != 0, (args, result.stdout)
    assert "forbidden" in result.stderr.lower(), (args, result.stderr)


def _cannot(kubeconfig: Path, verb: str, resource: str, namespace: str) -> None:
    result = _kubectl_as(kubeconfig, "auth", "can-i", verb, resource, "-n", namespace)
    assert result.stdout.strip() == "no", (verb, resource, result.stdout, result.stderr)


def _allowed(kubeconfig: Path, *args: str) -> None:
    result = _kubectl_as(kubeconfig, *args)
    assert result.returncode == 0, (args, result.stderr)


def test_helm_install_brings_the_operator_up_and_uninstall_removes_it(
    cluster: Cluster, namespace: str, helm: Path
) -> None:
    _restricted(cluster, namespace)
    release = "op"
    name = f"{release}-seedcoder-operator-{namespace[-6:]}"
    run_helm(
        helm, "install", release, str(CHART), "-n", namespace, "--set", f"fullnameOverride={name}",
        kubeconfig=cluster.kubeconfig,
    )  # fmt: skip
    _wait_available(cluster, namespace, name)
    for kind in CHART_OBJECTS:
        cluster.kubectl("get", kind, name if kind != "service" else f"{name}-metrics", "-n", namespace)
    cluster.kubectl("get", "clusterrole", name)
    cluster.kubectl("get", "clusterrolebinding", name)
    cluster.kubectl("get", "crd", "seedcoderdeployments.seedcoder.dev")

    run_helm(
        helm, "uninstall", release, "-n", namespace, "--wait", "--timeout=120s", kubeconfig=cluster.kubeconfig
    )
    for kind in CHART_OBJECTS:
        _wait_gone(cluster, kind, "-n", namespace, "-l", f"app.kubernetes.io/instance={release}")
    _wait_gone(cluster, "clusterrole", name)
    _wait_gone(cluster, "clusterrolebinding", name)
    _wait_gone(cluster, "pods", "-n", namespace, "-l", "app.kubernetes.io/component=operator")
    # Helm never deletes CRDs (the chart README says how to).
    cluster.kubectl("get", "crd", "seedcoderdeployments.seedcoder.dev")


def test_kubectl_apply_and_delete_of_the_plain_manifests(cluster: Cluster) -> None:
    manifests = ROOT / "manifests"
    # The operator pod this installs watches every namespace: keep it on the simulated
    # CPU node (apply keeps the annotation on the Namespace it then applies).
    cluster.kubectl("create", "namespace", im.NAMESPACE)
    cluster.kubectl(
        "annotate", "namespace", im.NAMESPACE, *[f"{k}={v}" for k, v in SIMULATED_NAMESPACE.items()]
    )
    cluster.kubectl(
        "apply", "--server-side", "-f", str(manifests / "crds"), "-f", str(manifests / "install.yaml")
    )
    try:
        _wait_available(cluster, im.NAMESPACE, im.RELEASE)
    finally:
        cluster.kubectl("delete", "-f", str(manifests / "install.yaml"), "--wait=true", "--timeout=120s")
    _wait_gone(cluster, "namespace", im.NAMESPACE, timeout=120)
    _wait_gone(cluster, "clusterrole", im.RELEASE)
    _wait_gone(cluster, "clusterrolebinding", im.RELEASE)


def test_examples_pass_the_apiservers_validation(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("apply", "--server-side", "-f", str(ROOT / "manifests" / "crds"))
    cluster.kubectl(
        "wait", "--for=condition=Established", "crd/seedcoderdeployments.seedcoder.dev", "--timeout=60s"
    )
    result = cluster.kubectl(
        "apply", "--dry-run=server", "-n", namespace, "-f", str(ROOT / "manifests" / "examples"), check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("created (server dry run)") == len(
        list((ROOT / "manifests" / "examples").glob("*.yaml"))
    ), result.stdout


def test_namespaced_rbac_is_least_privilege(
    cluster: Cluster, namespace: str, extra_namespaces: list[str], helm: Path, tmp_path: Path
) -> None:
    watched_a, watched_b, other = extra_namespaces
    release = "op"
    name = f"nsop-{namespace[-6:]}"
    run_helm(
        helm, "install", release, str(CHART), "-n", namespace,
        "--set", f"fullnameOverride={name}",
        "--set", f"operator.watchNamespaces={{{watched_a},{watched_b}}}",
        kubeconfig=cluster.kubeconfig,
    )  # fmt: skip
    try:
        kubeconfig = _as_sa(cluster, tmp_path, namespace, name)
        _check_snapshot("can-i-namespaced.txt", _can_i_list(kubeconfig, watched_a))
        assert _can_i_list(kubeconfig, watched_b) == _can_i_list(kubeconfig, watched_a)
        for ns in (watched_a, other, namespace):
            _forbidden(kubeconfig, "get", "secrets", "-n", ns)
        _allowed(kubeconfig, "get", "seedcoderdeployments", "-n", watched_a)
        _allowed(kubeconfig, "get", "deployments", "-n", watched_b)
        _forbidden(kubeconfig, "get", "seedcoderdeployments", "-n", other)
        _forbidden(kubeconfig, "get", "deployments", "-n", other)
        _forbidden(kubeconfig, "get", "seedcoderdeployments", "--all-namespaces")
        _forbidden(kubeconfig, "get", "nodes")
        _forbidden(kubeconfig, "get", "clusterroles")
        _forbidden(
            kubeconfig, "create", "rolebinding", "x", "--clusterrole=admin", "--user=me", "-n", watched_a
        )
        _forbidden(kubeconfig, "delete", "namespace", other)
        _cannot(kubeconfig, "create", "pods/exec", watched_a)
    finally:
        run_helm(helm, "uninstall", release, "-n", namespace, kubeconfig=cluster.kubeconfig)


def test_cluster_wide_rbac_is_least_privilege(
    cluster: Cluster, namespace: str, extra_namespaces: list[str], helm: Path, tmp_path: Path
) -> None:
    other = extra_namespaces[2]
    release = "op"
    name = f"cwop-{namespace[-6:]}"
    run_helm(
        helm, "install", release, str(CHART), "-n", namespace, "--set", f"fullnameOverride={name}",
        kubeconfig=cluster.kubeconfig,
    )  # fmt: skip
    try:
        kubeconfig = _as_sa(cluster, tmp_path, namespace, name)
        _check_snapshot("can-i-cluster-wide.txt", _can_i_list(kubeconfig, other))
        _allowed(kubeconfig, "get", "seedcoderdeployments", "--all-namespaces")
        for ns in (other, namespace, "kube-system"):
            _forbidden(kubeconfig, "get", "secrets", "-n", ns)
        _forbidden(kubeconfig, "get", "secrets", "--all-namespaces")
        _forbidden(kubeconfig, "get", "nodes")
        _forbidden(
            kubeconfig, "create", "clusterrolebinding", "x", "--clusterrole=cluster-admin", "--user=me"
        )
        for verb, resource in (
            ("create", "pods/exec"),
            ("create", "pods"),
            ("get", "secrets"),
            ("update", "nodes"),
        ):
            _cannot(kubeconfig, verb, resource, other)
    finally:
        run_helm(helm, "uninstall", release, "-n", namespace, kubeconfig=cluster.kubeconfig)

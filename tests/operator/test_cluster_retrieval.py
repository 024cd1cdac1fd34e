"""spec.retrieval on the local control plane: the operator's indexing CronJob and Job, the
gateway's wiring, status.retrieval, a sources change, and the CRD's validation and docs.

Pods here land on simulated nodes (KWOK plays the kubelet), so the indexing pod
does not really run: its Job completes on KWOK's schedule. What the kubelet
would then report, the pod's termination message, is written into the pod's
status by this test, and the message is the one the real indexing program
printed when this test ran it (the Job's exact command) against a Git
repository served by ``git daemon`` on loopback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from seedcoder_dev.devcluster import Cluster
from seedcoder_dev.devcluster.cluster import KubectlError

from tests.operator.harness import OperatorProcess, apply, install_volumes, kubectl_json, wait_for
from tests.operator.sample import sample
from tests.retrieval.gitserve import git_daemon, make_repo

pytestmark = pytest.mark.cluster
REPO = Path(__file__).resolve().parents[2]
LIBRARY = REPO / "benchmarks" / "retrieval" / "library"
INDEX_LABEL = "app.kubernetes.io/instance=completions,app.kubernetes.io/component=code-index"


def retrieval(branch: str = "main") -> dict[str, Any]:
    return {
        "index": {"claimName": "code-index"},
        "schedule": "0 3 * * *",
        "sources": {
            "git": [{"name": "payments", "url": "git://git.corp.internal/payments.git", "branch": branch,
                     "credentialsSecretRef": {"name": "git-reader"}, "include": ["**/*.py"]}],
            "docs": [{"name": "handbook", "pvc": {"claimName": "docs"}}],
        },
    }  # fmt: skip


def index_jobs(cluster: Cluster, ns: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kubectl_json(cluster, "get", "jobs", "-n", ns, "-l", INDEX_LABEL)["items"]
    return [j for j in items if j["metadata"]["name"] != "completions-index"]


def real_summary(tmp_path: Path) -> str:
    """The termination message of a real run of the Job's command against git daemon on loopback."""
    files = {f"vexilo/{p.name}": p.read_text() for p in (LIBRARY / "vexilo").glob("*.py")}
    make_repo(tmp_path / "git", "payments", files, {})
    term = tmp_path / "termination-log"
    with git_daemon(tmp_path / "git") as base:
        sources = {"git": [{"name": "payments", "url": f"{base}/payments.git", "include": ["**/*.py"]}]}
        env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO / "operator" / "src"),
               "SEEDCODER_INDEX_SOURCES": json.dumps(sources)}  # fmt: skip
        cmd = [sys.executable, "-m", "seedcoder.cli", "index", "--out", str(tmp_path / "index"),
               "--termination-log", str(term)]  # fmt: skip
        subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=120)
    return term.read_text()


def report_terminated(cluster: Cluster, ns: str, pod: dict[str, Any], message: str) -> None:
    """What the kubelet writes when the indexing container exits: its termination message."""
    c = pod["status"]["containerStatuses"][0]
    patched = {**c, "ready": False, "state": {"terminated": {
        "exitCode": 0, "reason": "Completed", "message": message,
        "startedAt": "2026-12-01T00:00:00Z", "finishedAt": "2026-12-01T00:01:00Z"}}}  # fmt: skip
    body = {"status": {"containerStatuses": [patched]}}
    cluster.kubectl("patch", "pod", pod["metadata"]["name"], "-n", ns, "--subresource=status",
                    "--type=merge", "-p", json.dumps(body))  # fmt: skip


def test_retrieval_jobs_gateway_wiring_and_status(
    cluster: Cluster, namespace: str, start_operator: Callable[..., OperatorProcess], tmp_path: Path
) -> None:
    summary = real_summary(tmp_path)
    install_volumes(cluster, namespace, ("code-index", "docs"))
    cluster.kubectl("create", "secret", "generic", "git-reader", "-n", namespace,
                    "--from-literal=username=indexer", "--from-literal=password=not-a-token")  # fmt: skip
    start_operator(resync="2")
    apply(cluster, sample(namespace=namespace, retrieval=retrieval()))
    uid = kubectl_json(cluster, "get", "scd", "completions", "-n", namespace)["metadata"]["uid"]

    cron = wait_for("the index CronJob", lambda: kubectl_json(
        cluster, "get", "cronjobs", "-n", namespace, "-l", INDEX_LABEL)["items"], timeout=90)[0]  # fmt: skip
    assert cron["metadata"]["name"] == "completions-index"
    assert cron["spec"]["schedule"] == "0 3 * * *"
    assert [(r["uid"], r["controller"]) for r in cron["metadata"]["ownerReferences"]] == [(uid, True)]
    (job,) = wait_for("the run-now index Job", lambda: index_jobs(cluster, namespace), timeout=60)
    assert [r["uid"] for r in job["metadata"]["ownerReferences"]] == [uid]
    (c,) = job["spec"]["template"]["spec"]["containers"]
    assert c["command"][:2] == ["seedcoder", "index"]
    env = {e["name"]: e for e in c["env"]}
    assert json.loads(env["SEEDCODER_INDEX_SOURCES"]["value"])["git"][0]["branch"] == "main"
    assert env["SEEDCODER_GIT_PASSWORD_PAYMENTS"]["valueFrom"]["secretKeyRef"]["name"] == "git-reader"
    policy = kubectl_json(cluster, "get", "networkpolicy", "completions-index", "-n", namespace)
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert not policy["spec"].get("ingress")  # no ingress at all

    # the gateway mounts the index read-only and is told where it is
    def gateway_config() -> dict[str, Any] | None:
        try:
            cm = kubectl_json(cluster, "get", "configmap", "completions-gateway", "-n", namespace)
        except KubectlError:
            return None
        cfg: dict[str, Any] = json.loads(cm["data"]["gateway.json"])
        return cfg

    cfg = wait_for("the gateway configuration", gateway_config, timeout=150, interval=1)
    assert cfg["retrieval"]["index_dir"] == "/var/lib/seedcoder/index"
    dep = kubectl_json(cluster, "get", "deployment", "completions-gateway", "-n", namespace)
    vols = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    assert vols["index"]["persistentVolumeClaim"] == {"claimName": "code-index", "readOnly": True}

    # status: Pending until the pod reports, then the program's own summary
    status = kubectl_json(cluster, "get", "scd", "completions", "-n", namespace)["status"]
    assert status["retrieval"]["state"] == "Pending"
    job_name = job["metadata"]["name"]
    pod = wait_for("the index pod to finish", lambda: [
        p for p in kubectl_json(cluster, "get", "pods", "-n", namespace, "-l",
                                f"batch.kubernetes.io/job-name={job_name}")["items"]
        if p["status"].get("containerStatuses")], timeout=90, interval=1)[0]  # fmt: skip
    report_terminated(cluster, namespace, pod, summary)
    expected = json.loads(summary)

    def indexed() -> dict[str, Any] | None:
        st = kubectl_json(cluster, "get", "scd", "completions", "-n", namespace)["status"].get("retrieval")
        return st if st and st["state"] == "Indexed" else None

    st = wait_for("status.retrieval Indexed", indexed, timeout=60, interval=1)
    assert st["chunks"] == expected["chunks"] > 10
    assert st["documents"] == expected["documents"] == 4
    assert st["lastIndexTime"] == expected["builtAt"]
    assert st["job"] == job_name

    # new sources: a new run-now Job replaces the old one
    apply(cluster, sample(namespace=namespace, retrieval=retrieval(branch="release")))

    def replaced() -> list[dict[str, Any]] | None:
        jobs = index_jobs(cluster, namespace)
        return jobs if [j["metadata"]["name"] for j in jobs] not in ([], [job_name]) and all(
            j["metadata"]["name"] != job_name for j in jobs) else None  # fmt: skip

    (new_job,) = wait_for("a new index Job for the new branch", replaced, timeout=60, interval=1)
    new_env = {e["name"]: e for e in new_job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert json.loads(new_env["SEEDCODER_INDEX_SOURCES"]["value"])["git"][0]["branch"] == "release"

    # removing retrieval (kubectl apply drops the field) removes the CronJob and the Job
    apply(cluster, sample(namespace=namespace))

    def gone() -> bool:
        return not kubectl_json(cluster, "get", "cronjobs,jobs", "-n", namespace, "-l", INDEX_LABEL)["items"]

    wait_for("the index objects to go", gone, timeout=60, interval=1)


def test_crd_validates_and_documents_retrieval(cluster: Cluster, namespace: str) -> None:
    bad = sample(namespace=namespace, retrieval={"index": {"claimName": "code-index"}, "sources": {}})
    with pytest.raises(KubectlError) as err:
        apply(cluster, bad)
    assert "retrieval needs at least one source" in str(err.value.stderr)
    dup = retrieval()
    dup["sources"]["docs"][0]["name"] = "payments"
    with pytest.raises(KubectlError) as err:
        apply(cluster, sample(namespace=namespace, retrieval=dup))
    assert "source names must be unique" in str(err.value.stderr)
    explain = cluster.kubectl("explain", "scd.spec.retrieval.sources.git.credentialsSecretRef").stdout
    assert "username" in explain
    assert "password" in explain

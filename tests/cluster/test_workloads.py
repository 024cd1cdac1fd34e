"""Jobs, pod deletion and garbage collection work as the operator expects.

Why: engine builds are Jobs (some slow, some failing), and the operator relies
on ownerReferences for clean-up; KWOK's stages and KCM's controllers must
deliver all of that, or operator tests would pass for the wrong reasons. The pods
here are pinned to a simulated node: the CPU node `cpu-0` really runs images.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from seedcoder_dev.devcluster import Cluster
from seedcoder_dev.devcluster.nodes import simulated_placement
from seedcoder_dev.devcluster.stages import CHAOS_LABEL, COMPLETE_DELAY_ANNOTATION

pytestmark = pytest.mark.cluster


def _job(
    name: str,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    backoff_limit: int = 1,
) -> str:
    job: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": backoff_limit,
            "template": {
                "metadata": {"labels": labels or {}, "annotations": annotations or {}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "build", "image": "registry.invalid/build:1"}],
                    **simulated_placement(),
                },
            },
        },
    }
    return json.dumps(job)


def test_job_completes(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=_job("quick"))
    cluster.kubectl("wait", "-n", namespace, "--for=condition=Complete", "job/quick", "--timeout=60s")
    job = json.loads(cluster.kubectl("get", "-n", namespace, "job/quick", "-o", "json").stdout)
    assert job["status"]["succeeded"] == 1


def test_job_completion_can_be_delayed_per_pod(cluster: Cluster, namespace: str) -> None:
    started = time.monotonic()
    cluster.kubectl(
        "apply", "-n", namespace, "-f", "-", input=_job("slow", annotations={COMPLETE_DELAY_ANNOTATION: "4s"})
    )
    cluster.kubectl(
        "wait", "-n", namespace, "pod", "-l", "job-name=slow", "--for=jsonpath={.status.phase}=Running",
        "--timeout=30s",
    )  # fmt: skip
    job = json.loads(cluster.kubectl("get", "-n", namespace, "job/slow", "-o", "json").stdout)
    assert job["status"].get("succeeded", 0) == 0, "completed before its delay"
    cluster.kubectl("wait", "-n", namespace, "--for=condition=Complete", "job/slow", "--timeout=60s")
    assert time.monotonic() - started >= 4


def test_chaos_label_fails_the_job(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=_job("broken", labels={CHAOS_LABEL: "true"}, backoff_limit=0),
    )
    cluster.kubectl("wait", "-n", namespace, "--for=condition=Failed", "job/broken", "--timeout=90s")
    job = json.loads(cluster.kubectl("get", "-n", namespace, "job/broken", "-o", "json").stdout)
    assert job["status"]["failed"] == 1  # backoffLimit 0: no retry
    assert job["status"].get("succeeded", 0) == 0


def test_deleted_pods_go_away(cluster: Cluster, namespace: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "short-lived"},
        "spec": {
            "containers": [{"name": "main", "image": "registry.invalid/none:1"}],
            **simulated_placement(),
        },
    }
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(pod))
    cluster.kubectl("wait", "-n", namespace, "--for=condition=Ready", "pod/short-lived", "--timeout=60s")
    cluster.kubectl("delete", "-n", namespace, "pod/short-lived", "--wait=true", "--timeout=30s")
    assert cluster.kubectl("get", "-n", namespace, "pod/short-lived", check=False).returncode != 0


def test_deleting_an_owner_garbage_collects_its_children(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("create", "-n", namespace, "configmap", "owner", "--from-literal=k=v")
    owner = json.loads(cluster.kubectl("get", "-n", namespace, "configmap/owner", "-o", "json").stdout)
    child = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "child",
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
            ],
        },
    }
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(child))
    web = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{"name": "main", "image": "registry.invalid/none:1"}],
                    **simulated_placement(),
                },
            },
        },
    }
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(web))
    cluster.kubectl("wait", "-n", namespace, "--for=condition=Available", "deployment/web", "--timeout=60s")

    cluster.kubectl("delete", "-n", namespace, "configmap/owner", "deployment/web")
    cluster.kubectl("wait", "-n", namespace, "--for=delete", "configmap/child", "--timeout=60s")
    cluster.kubectl("wait", "-n", namespace, "--for=delete", "pod", "-l", "app=web", "--timeout=60s")
    left = cluster.kubectl("get", "-n", namespace, "replicasets,pods", "-o", "name").stdout.split()
    assert left == []

"""Build failures, restarts mid-build, rollovers and specs CEL cannot judge, on the real control plane."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
from seedcoder_dev.devcluster import Cluster

from tests.operator.harness import OperatorProcess, apply, kubectl_json, wait_for
from tests.operator.sample import REVISION, sample
from tests.operator.test_cluster_lifecycle import build_jobs, condition, scd, wait_ready

pytestmark = pytest.mark.cluster
CHAOS = "pod-container-running-failed.stage.kwok.x-k8s.io"
DELAY = "pod-complete.stage.kwok.x-k8s.io/delay"


def one_pool(namespace: str, name: str = "solo", **engine: Any) -> dict[str, Any]:
    return sample(
        name=name,
        namespace=namespace,
        pools=[{"name": "h100", "gpu": "H100", "minReplicas": 1, "maxReplicas": 2}],
        engine={"cache": {"pvc": {"claimName": "engine-cache"}}, **engine},
    )


def engines(cluster: Cluster, ns: str, name: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = (scd(cluster, ns, name).get("status") or {}).get("engines") or []
    return out


def test_failing_build_reports_the_reason_and_is_retried(
    cluster: Cluster, namespace: str, start_operator: Callable[..., OperatorProcess]
) -> None:
    start_operator(resync="2", build_retry="4", backoff_limit="1")
    apply(cluster, one_pool(namespace, buildPod={"labels": {CHAOS: "true"}}))

    def failed_engine() -> dict[str, Any] | None:
        found = [e for e in engines(cluster, namespace, "solo") if e["state"] == "Failed"]
        return found[0] if found else None

    engine = wait_for("the engine to be reported Failed", failed_engine, timeout=120, interval=1)
    assert engine["attempts"] >= 2, "the Job controller retried the pod before giving up"
    assert "BackoffLimitExceeded" in engine["message"]
    assert "exit code" in engine["message"] or "Error" in engine["message"]
    obj = scd(cluster, namespace, "solo")
    assert condition(obj, "EnginesReady")["reason"] == "BuildFailed"  # type: ignore[index]
    first_uid = build_jobs(cluster, namespace)[0]["metadata"]["uid"]

    def retried() -> bool:
        jobs = build_jobs(cluster, namespace)
        return len(jobs) == 1 and jobs[0]["metadata"]["uid"] != first_uid

    wait_for("a fresh build attempt after the retry pause", retried, timeout=60, interval=1)
    events = kubectl_json(
        cluster, "get", "events.events.k8s.io", "-n", namespace, "--field-selector", "regarding.name=solo"
    )["items"]
    assert any(e["reason"] == "BuildFailed" and e["type"] == "Warning" for e in events)


def test_restart_mid_build_keeps_one_job_and_its_progress(
    cluster: Cluster, namespace: str, start_operator: Callable[..., OperatorProcess]
) -> None:
    op = start_operator(resync="2")
    apply(cluster, one_pool(namespace, buildPod={"annotations": {DELAY: "20s"}}))
    wait_for(
        "the build to run",
        lambda: [
            e
            for e in engines(cluster, namespace, "solo")
            if e["state"] == "Building" and e["message"] == "Build running"
        ],
        timeout=60,
    )
    job_uid = build_jobs(cluster, namespace)[0]["metadata"]["uid"]
    op.stop(signal.SIGKILL)
    start_operator(resync="2")
    time.sleep(4)
    jobs = build_jobs(cluster, namespace)
    assert [j["metadata"]["uid"] for j in jobs] == [job_uid], "no second build Job after the restart"
    assert engines(cluster, namespace, "solo")[0]["state"] == "Building", "progress not lost"
    wait_ready(cluster, namespace, "solo", timeout=90)
    assert [j["metadata"]["uid"] for j in build_jobs(cluster, namespace)] == [job_uid]


def test_spec_change_rolls_over_without_a_window_with_no_ready_pool(
    cluster: Cluster, namespace: str, start_operator: Callable[..., OperatorProcess]
) -> None:
    start_operator(resync="2")
    first = one_pool(namespace)
    apply(cluster, first)
    old = wait_ready(cluster, namespace, "solo")
    old_key = old["status"]["engines"][0]["key"]
    changed = one_pool(namespace, buildPod={"annotations": {DELAY: "8s"}})
    changed["spec"]["model"]["revision"] = REVISION[::-1]
    apply(cluster, changed)
    deadline = time.monotonic() + 150
    new_key = None
    while time.monotonic() < deadline:
        dep = kubectl_json(cluster, "get", "deployment", "solo-triton-h100", "-n", namespace)
        assert (dep["status"].get("readyReplicas") or 0) >= 1, "no ready Triton replica during the rollover"
        status = scd(cluster, namespace, "solo").get("status") or {}
        keys = [e["key"] for e in status.get("engines") or []]
        if keys and keys[0] != old_key:
            new_key = keys[0]
        ready = condition({"status": status}, "Ready")
        if (
            new_key
            and dep["metadata"]["labels"]["seedcoder.dev/engine-key"] == new_key
            and ready
            and ready["status"] == "True"
        ):
            break
        time.sleep(0.5)
    else:
        raise AssertionError("the pool never rolled over to the new engine")
    wait_for(
        "the old engine's Job released",
        lambda: (
            [j["metadata"]["labels"]["seedcoder.dev/engine-key"] for j in build_jobs(cluster, namespace)]
            == [new_key]
        ),
    )


def test_what_cel_cannot_judge_becomes_invalid_spec(
    cluster: Cluster, namespace: str, start_operator: Callable[..., OperatorProcess]
) -> None:
    start_operator(resync="2")
    body = sample(name="cpu", namespace=namespace, pools=[{"name": "cpu", "gpu": "CPU"}])
    apply(cluster, body)

    def invalid() -> dict[str, Any] | None:
        c = condition(scd(cluster, namespace, "cpu"), "Ready")
        return c if c and c["reason"] == "InvalidSpec" else None

    ready = wait_for("Ready=False InvalidSpec", invalid, timeout=60)
    assert ready["status"] == "False"
    assert "spec.gateway.maxContextTokens" in ready["message"]
    assert build_jobs(cluster, namespace) == []


def test_slo_mode_never_fights_the_autoscaler_over_replicas(
    cluster: Cluster, namespace: str, start_operator: Callable[..., OperatorProcess]
) -> None:
    start_operator(resync="2")
    body = one_pool(namespace)
    body["spec"]["autoscaling"] = {"mode": "slo"}
    apply(cluster, body)
    wait_ready(cluster, namespace, "solo")
    dep = "solo-triton-h100"
    assert kubectl_json(cluster, "get", "deployment", dep, "-n", namespace)["spec"]["replicas"] == 1
    # what the autoscaler does: write replicas through the scale subresource as its own field manager
    cluster.kubectl(
        "patch",
        "deployment",
        dep,
        "-n",
        namespace,
        "--subresource=scale",
        "--type=merge",
        "-p",
        '{"spec":{"replicas":2}}',
        "--field-manager=seedcoder-autoscaler",
    )
    # a spec change the operator must apply to the Deployment (new resources), then several resyncs
    body["spec"]["pools"][0]["resources"] = {"requests": {"cpu": "6", "memory": "40Gi"}}
    apply(cluster, body)

    def applied() -> bool:
        d = kubectl_json(cluster, "get", "deployment", dep, "-n", namespace)
        return d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "6"

    wait_for("the operator to apply the new resources", applied, timeout=60)
    time.sleep(5)
    d = kubectl_json(cluster, "get", "deployment", dep, "-n", namespace, "--show-managed-fields")
    assert d["spec"]["replicas"] == 2, "the operator reset replicas the autoscaler owns"
    managers = {
        m["manager"]
        for m in d["metadata"]["managedFields"]
        if "f:replicas" in (m.get("fieldsV1") or {}).get("f:spec", {})
    }
    assert managers == {"seedcoder-autoscaler"}

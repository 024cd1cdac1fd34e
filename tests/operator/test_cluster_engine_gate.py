"""The engine gate on the local control plane: a canary, an evaluation Job, then roll out or hold.

Pods land on simulated nodes (KWOK plays the kubelet), so the canary and the
evaluation pod do not really run: the canary becomes ready and the evaluation
Job completes on KWOK's schedule. What the kubelet would then report, the
evaluation pod's termination message, is written into the pod's status by this
test: the harness' own summary (``seedcoder.evaluation.harness.evaluate`` over
the packaged public tasks) of two stand-ins for the engines, one writing each
hole's true middle and one writing nothing (a regression), or both writing it
(within the margin). The operator's side is all real: the objects it creates,
the gateway configuration it writes, its status, its Events.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from seedcoder.evaluation.harness import evaluate
from seedcoder.evaluation.public import public_tasks
from seedcoder_dev.devcluster import Cluster

from tests.operator.harness import OperatorProcess, apply, kubectl_json, wait_for
from tests.operator.test_cluster_builds import one_pool
from tests.operator.test_cluster_finetune import report_terminated
from tests.operator.test_cluster_lifecycle import condition, scd, wait_ready

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
MODEL = "ByteDance-Seed/Seed-Coder-8B-Base"
GATE = {"maxDrop": 0.02, "apiKeySecretRef": "eval-key", "limit": 30}


def gated(namespace: str, precision: str) -> dict[str, Any]:
    body = one_pool(namespace, gate=GATE)
    body["spec"]["pools"][0]["precision"] = precision
    return body


def summary(candidate_fills: bool) -> str:
    tasks = public_tasks()[:30]
    truth = {(t.prefix, t.suffix): t.middle for t in tasks}
    runs = []
    for model, fills in ((f"{MODEL}@h100", True), (f"{MODEL}@h100.candidate", candidate_fills)):
        report = evaluate("public", tasks, lambda p, s, f=fills: truth[(p, s)] if f else "", run_tests=False)
        runs.append({"model": model, "sets": {"public": report.summary()}})
    return json.dumps({"runs": runs}, separators=(",", ":"))


def gate_jobs(cluster: Cluster, ns: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kubectl_json(
        cluster, "get", "jobs", "-n", ns, "-l", "app.kubernetes.io/component=engine-gate"
    )["items"]
    return items


def serving_key(cluster: Cluster, ns: str) -> str:
    dep = kubectl_json(cluster, "get", "deployment", "solo-triton-h100", "-n", ns)
    key: str = dep["metadata"]["labels"]["seedcoder.dev/engine-key"]
    return key


def gateway_pools(cluster: Cluster, ns: str) -> dict[str, dict[str, Any]]:
    cm = kubectl_json(cluster, "get", "configmap", "solo-gateway", "-n", ns)
    return {p["name"]: p for p in json.loads(cm["data"]["gateway.json"])["pools"]}


def exists(cluster: Cluster, ns: str, kind: str, name: str) -> bool:
    return cluster.kubectl("get", kind, name, "-n", ns, check=False).returncode == 0


def pool_gate(cluster: Cluster, ns: str) -> dict[str, Any] | None:
    pools = (scd(cluster, ns, "solo").get("status") or {}).get("pools") or []
    found: dict[str, Any] | None = pools[0].get("engineGate") if pools else None
    return found


def test_a_regressed_engine_is_held_and_one_within_the_margin_rolls_out(
    cluster: Cluster, namespace: str, start_operator: Callable[..., OperatorProcess]
) -> None:
    ns = namespace
    start_operator(resync="2")
    apply(cluster, gated(ns, "fp8"))
    first = serving_key(cluster, ns) if wait_ready(cluster, ns, "solo") else ""
    assert not gate_jobs(cluster, ns), "a first engine has nothing to be compared with"

    # 1. INT4 after FP8: canary, evaluation, a regression -> the pool keeps FP8
    apply(cluster, gated(ns, "int4-awq"))
    wait_for("the canary", lambda: exists(cluster, ns, "deployment", "solo-canary-h100"), timeout=120)
    listed = wait_for("the candidate in the gateway configuration",
                      lambda: gateway_pools(cluster, ns).get("h100.candidate"), timeout=60)  # fmt: skip
    assert listed["candidate"] is True
    assert listed["grpc_url"].startswith(f"solo-canary-h100.{ns}.svc.")
    (job,) = wait_for("the evaluation Job", lambda: gate_jobs(cluster, ns) or None, timeout=120)
    assert serving_key(cluster, ns) == first, "the pool serves FP8 while INT4 is evaluated"
    report_terminated(cluster, ns, job, summary(candidate_fills=False))

    def regressed() -> dict[str, Any] | None:
        g = pool_gate(cluster, ns)
        return g if g is not None and g["state"] == "Regressed" else None

    held = wait_for("the regression verdict", regressed, timeout=120)
    assert held["serving"] == first
    assert "public edit similarity fell by" in held["message"]
    obj = scd(cluster, ns, "solo")
    assert condition(obj, "EngineGate")["reason"] == "EngineRegressed"  # type: ignore[index]
    assert condition(obj, "Ready")["status"] == "True", "the pool still serves"  # type: ignore[index]
    assert obj["status"]["phase"] == "Degraded"
    assert serving_key(cluster, ns) == first
    wait_for("the canary gone", lambda: not exists(cluster, ns, "deployment", "solo-canary-h100"), timeout=60)
    assert "h100.candidate" not in gateway_pools(cluster, ns)
    assert [j["metadata"]["name"] for j in gate_jobs(cluster, ns)] == [job["metadata"]["name"]], "the record"
    events = kubectl_json(cluster, "get", "events.events.k8s.io", "-n", ns,
                          "--field-selector", "regarding.name=solo")["items"]  # fmt: skip
    assert any(e["reason"] == "EngineRegressed" and e["type"] == "Warning" for e in events)

    # 2. BF16 instead: evaluated again, within the margin -> the pool rolls onto it
    apply(cluster, gated(ns, "bf16"))

    def second_job() -> dict[str, Any] | None:
        fresh = [j for j in gate_jobs(cluster, ns) if j["metadata"]["name"] != job["metadata"]["name"]]
        return fresh[0] if fresh else None

    job2 = wait_for("a second evaluation Job", second_job, timeout=150)
    assert job2["metadata"]["labels"]["seedcoder.dev/serving-engine-key"] == first
    report_terminated(cluster, ns, job2, summary(candidate_fills=True))
    new_key = job2["metadata"]["labels"]["seedcoder.dev/candidate-engine-key"]
    wait_for("the pool on BF16", lambda: serving_key(cluster, ns) == new_key, timeout=120)
    done = wait_ready(cluster, ns, "solo")
    assert condition(done, "EngineGate")["status"] == "True"  # type: ignore[index]
    wait_for("the canary and the Jobs gone", lambda: not gate_jobs(cluster, ns)
             and not exists(cluster, ns, "deployment", "solo-canary-h100"), timeout=60)  # fmt: skip
    record = pool_gate(cluster, ns)
    assert record is not None
    assert (record["state"], record["candidate"]) == ("Passed", new_key), "the last verdict stays"

"""The operator runs SeedCoderFineTunes on the local control plane: Jobs, gate, publish, reject.

Pods land on simulated nodes (KWOK plays the kubelet), so the data set,
training and evaluation pods do not really run: their Jobs complete on KWOK's
schedule. What the kubelet would then report, each pod's termination message,
is written into the pod's status by this test. The data set manifest is the one
the real ``seedcoder dataset build`` printed when this test ran the Job's
command on feedback records written by the gateway's own feedback store; the
evaluation summaries are the harness' own (``seedcoder.evaluation``) over that
snapshot's held-out tasks and the public set, with two stand-ins for the
models: a base that leaves every hole empty, and an adapter that fills the
held-out holes (passes the gate) or also leaves them empty (fails it). The
deployment's gateway configuration lists each candidate while it is evaluated
and the published adapter after the gate; live feedback far below the base's,
answered by a stand-in for Prometheus' query API, rolls the adapter back.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from seedcoder.evaluation.harness import evaluate
from seedcoder.evaluation.public import public_tasks
from seedcoder.evaluation.tasks import load_tasks
from seedcoder.gateway.feedback import FeedbackStore, Served, build_event
from seedcoder.operator.finetune.live_feedback import feedback_query
from seedcoder_dev.devcluster import Cluster

from tests.fixtures.http_stub import QuietHandler, serving
from tests.operator.harness import (
    OperatorProcess,
    apply,
    audit_offset,
    audit_writes,
    install_volumes,
    kubectl_json,
    wait_for,
)
from tests.operator.sample import sample
from tests.operator.test_cluster_lifecycle import wait_ready

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
MODEL = "ByteDance-Seed/Seed-Coder-8B-Base"


async def _record_feedback(folder: Path) -> None:
    store = FeedbackStore(str(folder), max_file_bytes=4096, writer="gw-a")
    for n in range(30):
        head = f"# path: svc/module_{n}.py\nimport logging\n\nlog = logging.getLogger(__name__)\n"
        served = Served(
            MODEL, "h100", head + f"def step_{n}(x):\n    ", "\n", [f"return x * {n} + {n + 1}"], 0
        )
        await store.append(
            build_event(f"ev-{n}", {"id": f"cmpl-{n}", "outcome": "accepted"}, served, "team-a")
        )


def real_dataset_manifest(tmp_path: Path) -> tuple[str, Path]:
    """The data set Job's termination message from a real run of its command, and the snapshot."""
    asyncio.run(_record_feedback(tmp_path / "feedback"))
    term = tmp_path / "dataset-termination-log"
    feedback, out = str(tmp_path / "feedback"), str(tmp_path / "datasets")
    cmd = [sys.executable, "-m", "seedcoder.cli", "dataset", "build", "--feedback", feedback,
           "--out", out, "--held-out-fraction", "0.3", "--summary", str(term)]  # fmt: skip
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "operator" / "src")}
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=120)
    message = term.read_text()
    return message, tmp_path / "datasets" / json.loads(message)["version"]


def evaluation_summary(snapshot: Path, candidate: str, *, adapter_learned: bool) -> str:
    """What ``seedcoder evaluate --summary`` writes for the base and the candidate adapter."""
    heldout, public = load_tasks(snapshot / "heldout.jsonl"), public_tasks()
    truth = {(t.prefix, t.suffix): t.middle for t in heldout}

    def base(prefix: str, suffix: str) -> str:
        return ""

    def adapter(prefix: str, suffix: str) -> str:
        return truth.get((prefix, suffix), "") if adapter_learned else ""

    runs = []
    for model, complete in ((MODEL, base), (candidate, adapter)):
        reports = [
            evaluate(n, ts, complete, run_tests=False) for n, ts in (("heldout", heldout), ("public", public))
        ]
        runs.append({"model": model, "sets": {r.name: r.summary() for r in reports}})
    text = json.dumps({"runs": runs}, separators=(",", ":"))
    assert len(text.encode()) < 4096, "the kubelet keeps at most 4096 bytes"
    return text


def finetune(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "seedcoder.dev/v1alpha1",
        "kind": "SeedCoderFineTune",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "deploymentRef": {"name": "completions"},
            "workspace": {"claimName": "finetune-workspace"},
            "data": {"minSamples": 5, "heldOutFraction": 0.3},
            "lora": {"rank": 8, "steps": 100},
            "gate": {"apiKeySecretRef": "eval-key", "minHeldOutTasks": 3},
            "publish": {"teams": ["team-a"]},
        },
    }


def get_ft(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = kubectl_json(cluster, "get", "scft", name, "-n", ns)
    return obj


def stage_job(cluster: Cluster, ns: str, name: str, stage: str) -> dict[str, Any]:
    """The Job of ``stage`` (dataset, train, evaluate) of run r1, once it exists."""

    def probe() -> dict[str, Any] | None:
        items = kubectl_json(cluster, "get", "jobs", "-n", ns, "-l", f"app.kubernetes.io/instance={name}")[
            "items"
        ]
        found = [j for j in items if j["metadata"]["name"] == f"{name}-{stage}-r1"]
        return found[0] if found else None

    return wait_for(f"the {stage} Job of {name}", probe, timeout=90, interval=1)


def report_terminated(cluster: Cluster, ns: str, job: dict[str, Any], message: str) -> None:
    """Once the Job's pod has ended, write what the kubelet writes: the termination message."""
    job_name = job["metadata"]["name"]

    def ended() -> dict[str, Any] | None:
        pods = kubectl_json(
            cluster, "get", "pods", "-n", ns, "-l", f"batch.kubernetes.io/job-name={job_name}"
        )
        done = [p for p in pods["items"] if p["status"].get("phase") == "Succeeded"]
        return done[0] if done else None

    pod = wait_for(f"the pod of {job_name} to end", ended, timeout=90, interval=1)
    c = pod["status"]["containerStatuses"][0]
    patched = {**c, "ready": False, "state": {"terminated": {
        "exitCode": 0, "reason": "Completed", "message": message,
        "startedAt": "2026-12-01T00:00:00Z", "finishedAt": "2026-12-01T00:01:00Z"}}}  # fmt: skip
    body = json.dumps({"status": {"containerStatuses": [patched]}})
    cluster.kubectl("patch", "pod", pod["metadata"]["name"], "-n", ns, "--subresource=status",
                    "--type=merge", "-p", body)  # fmt: skip


@contextmanager
def prometheus_standin(expected_query: str, counts: dict[tuple[str, str], int]) -> Iterator[str]:
    """An HTTP API answering Prometheus instant queries: the recording rule's per-adapter, per-outcome
    feedback events for ``expected_query`` (an empty vector for any other query)."""

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = parse_qs(url.query).get("query", [""])[0]
            result = [
                {"metric": {"adapter": a, "outcome": o, "namespace": "x"}, "value": [time.time(), str(n)]}
                for (a, o), n in counts.items()
            ]
            ok = url.path == "/api/v1/query" and query == expected_query
            body = {"status": "success", "data": {"resultType": "vector", "result": result if ok else []}}
            self.send_json(200, json.dumps(body).encode())

    with serving(Handler) as url:
        yield url


def gateway_adapters(cluster: Cluster, ns: str) -> dict[str, dict[str, Any]]:
    """The adapters the deployment's gateway configuration lists, by name (none before it exists)."""
    found = cluster.kubectl("get", "configmap", "completions-gateway", "-n", ns, "-o", "json", check=False)
    if found.returncode != 0:
        return {}
    config = json.loads(json.loads(found.stdout)["data"]["gateway.json"])
    return {a["name"]: a for a in config.get("adapters", [])}


def stages(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["name"], s["state"]) for s in (obj.get("status") or {}).get("stages") or []]


def test_runs_are_staged_judged_published_or_rejected_settle_without_writes_and_roll_back(
    cluster: Cluster, namespace: str, start_operator: Callable[..., OperatorProcess], tmp_path: Path
) -> None:
    manifest, snapshot = real_dataset_manifest(tmp_path)
    install_volumes(cluster, namespace, ("feedback", "finetune-workspace"))
    op = start_operator(resync="2")
    pools = [{"name": "h100", "gpu": "H100", "minReplicas": 1, "maxReplicas": 1}]
    gateway = {
        "replicas": 1,
        "apiKeySecretRef": {"name": "seedcoder-keys"},
        "feedback": {"pvc": {"claimName": "feedback"}},
    }
    apply(cluster, sample(namespace=namespace, pools=pools, gateway=gateway))
    apply(cluster, finetune("good", namespace), finetune("bad", namespace))
    uids = {n: get_ft(cluster, namespace, n)["metadata"]["uid"] for n in ("good", "bad")}

    for name in ("good", "bad"):
        job = stage_job(cluster, namespace, name, "dataset")
        refs = job["metadata"]["ownerReferences"]
        assert [(r["kind"], r["uid"], r["controller"]) for r in refs] == [
            ("SeedCoderFineTune", uids[name], True)
        ]
        vols = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
        assert vols["feedback"]["persistentVolumeClaim"] == {"claimName": "feedback", "readOnly": True}
        assert stages(get_ft(cluster, namespace, name)) == [("Dataset", "Running")]
        report_terminated(cluster, namespace, job, manifest)

    version = json.loads(manifest)["version"]
    for name in ("good", "bad"):
        train = stage_job(cluster, namespace, name, "train")  # completes on KWOK: nothing to report
        assert (
            f"/workspace/datasets/{name}/{version}/train.jsonl"
            in train["spec"]["template"]["spec"]["containers"][0]["command"]
        )
        obj = get_ft(cluster, namespace, name)
        assert obj["status"]["datasetVersion"] == version
        assert obj["status"]["datasetSamples"] == json.loads(manifest)["counts"]["train"]

    for name in ("good", "bad"):
        stage_job(cluster, namespace, name, "evaluate")

    # under evaluation, each candidate answers by its versioned name through the gateway, for no team
    def both_staged() -> dict[str, dict[str, Any]] | None:
        listed = gateway_adapters(cluster, namespace)
        return listed if {"good-r1", "bad-r1"} <= set(listed) else None

    staged = wait_for(
        "the staged candidates in the gateway configuration", both_staged, timeout=90, interval=1
    )
    assert {n: (a["published"], a["teams"], a["gguf"]) for n, a in staged.items()} == {
        "good-r1": (False, [], "good/r1/adapter.gguf"),
        "bad-r1": (False, [], "bad/r1/adapter.gguf"),
    }

    for name, learned in (("good", True), ("bad", False)):
        job = stage_job(cluster, namespace, name, "evaluate")
        summary = evaluation_summary(snapshot, f"{MODEL}:{name}-r1", adapter_learned=learned)
        report_terminated(cluster, namespace, job, summary)

    def judged(name: str) -> dict[str, Any] | None:
        obj = get_ft(cluster, namespace, name)
        return obj if (obj.get("status") or {}).get("decision") and stages(obj)[-1][1] != "Running" else None

    good = wait_for("the good run's decision", lambda: judged("good"), timeout=90, interval=1)
    assert stages(good) == [("Dataset", "Succeeded"), ("Training", "Succeeded"), ("Evaluation", "Succeeded"),
                            ("Gate", "Succeeded"), ("Publish", "Succeeded")]  # fmt: skip
    st = good["status"]
    assert st["decision"]["publish"] is True
    assert st["decision"]["reason"] == "HeldOutImproved"
    assert st["scores"]["adapterHeldOut"]["editSimilarity"] == 1.0
    assert st["scores"]["baseHeldOut"]["editSimilarity"] == 0.0
    assert st["scores"]["adapterHeldOut"]["tasks"] == json.loads(manifest)["counts"]["heldout"]
    adapter = st["adapter"]
    assert (adapter["name"], adapter["version"], adapter["model"]) == ("good", "r1", f"{MODEL}:good")
    assert (adapter["claimName"], adapter["path"]) == ("finetune-workspace", "adapters/good/r1")
    assert adapter["teams"] == ["team-a"]
    assert adapter["scores"] == st["scores"]
    assert st["publishedAdapter"] == "good-r1"  # Publish ended: the gateway configuration lists it
    assert gateway_adapters(cluster, namespace)["good"]["published"] is True
    assert st["observedGeneration"] == good["metadata"]["generation"]

    bad = wait_for("the bad run's decision", lambda: judged("bad"), timeout=90, interval=1)
    assert stages(bad)[-2:] == [("Evaluation", "Succeeded"), ("Gate", "Failed")]
    assert bad["status"]["decision"]["reason"] == "HeldOutNotImproved"
    assert "adapter" not in bad["status"]
    assert "publishedAdapter" not in bad["status"]

    # Both judged (in either order): the published adapter is served, the rejected candidate is not.
    def settled() -> dict[str, tuple[Any, ...]] | None:
        listed = gateway_adapters(cluster, namespace)
        out = {n: (a["published"], a["teams"], a["gguf"]) for n, a in listed.items()}
        return out if "bad-r1" not in out else None

    assert wait_for("the rejected candidate unlisted", settled, timeout=60, interval=1) == {
        "good": (True, ["team-a"], "good/r1/adapter.gguf")
    }

    def reasons(name: str) -> dict[str, str]:
        items = kubectl_json(cluster, "get", "events.events.k8s.io", "-n", namespace,
                             "--field-selector", f"regarding.name={name}")["items"]  # fmt: skip
        return {e["reason"]: e["type"] for e in items if e["regarding"]["kind"] == "SeedCoderFineTune"}

    assert wait_for("the rejection Event", lambda: reasons("bad").get("AdapterRejected")) == "Warning"
    assert reasons("good") == {"TrainingStarted": "Normal", "AdapterPublished": "Normal"}
    assert reasons("bad") == {"TrainingStarted": "Normal", "AdapterRejected": "Warning"}
    table = cluster.kubectl("get", "scft", "good", "-n", namespace).stdout.splitlines()
    assert table[1].split()[1:5] == ["completions", version, "HeldOutImproved", "good-r1"]

    # settled: resync rounds and a restarted operator write nothing at all
    wait_ready(cluster, namespace, "completions")
    time.sleep(3)
    offset = audit_offset(cluster)
    time.sleep(7)  # three resync rounds
    op.stop()
    op2 = start_operator(resync="2")
    time.sleep(7)
    writes = audit_writes(cluster, op.user, offset) + audit_writes(cluster, op2.user, offset)
    assert writes == [], [f"{w['verb']} {w['requestURI']}" for w in writes]
    assert op.forbidden() == []
    assert op2.forbidden() == []
    op2.stop()

    # live feedback: developers accept the adapter far less than the base -> rolled back
    counts = {
        ("base", "accepted"): 60,
        ("base", "rejected"): 40,
        ("good", "accepted"): 10,
        ("good", "rejected"): 30,
    }
    with prometheus_standin(feedback_query(namespace, "completions"), counts) as url:
        op3 = start_operator(
            resync="2",
            SEEDCODER_PROMETHEUS_URL=url,
            SEEDCODER_FINETUNE_ROLLBACK_MIN_EVENTS="20",
            SEEDCODER_FINETUNE_ROLLBACK_INTERVAL_SECONDS="1",
        )

        def rolled_back() -> dict[str, Any] | None:
            return (get_ft(cluster, namespace, "good").get("status") or {}).get("rollback")

        rollback = wait_for("the rollback", rolled_back, timeout=60, interval=1)
    assert (rollback["adapter"], rollback["version"], rollback["reason"]) == (
        "good",
        "r1",
        "AcceptanceBelowBase",
    )
    assert (rollback["adapterAcceptance"], rollback["baseAcceptance"]) == (0.25, 0.6)
    assert "publishedAdapter" not in get_ft(cluster, namespace, "good")["status"]
    wait_for("the adapter to leave the gateway", lambda: gateway_adapters(cluster, namespace) == {} or None)
    assert wait_for("the rollback Event", lambda: reasons("good").get("AdapterRolledBack")) == "Warning"
    assert op3.forbidden() == []

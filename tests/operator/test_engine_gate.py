"""The engine gate, pure: a pool's new engine is served only after it scored as well as the old one.

Each step is a function of what was observed (the pool's live Deployment, the
built engine, the canary, the evaluation Job and its pod's summary), so the tests
build those views and check what the plan and the status make of them. The
summaries are the harness' own (``seedcoder.evaluation.harness.evaluate``) over the
packaged public task set, with two stand-ins for the engines: one that writes
each hole's true middle and one that writes nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from seedcoder.api.gateway_config import GatewayConfig
from seedcoder.evaluation.harness import evaluate
from seedcoder.evaluation.public import public_tasks
from seedcoder.operator.objects import engine_gate, names
from seedcoder.operator.objects.desired import Observed, plan
from seedcoder.operator.objects.engine_gate import GateJobView
from seedcoder.operator.reconcile import events
from seedcoder.operator.reconcile.conditions import Transition
from seedcoder.operator.reconcile.status_calc import compute

from tests.operator.helpers import SETTINGS, deployment, job, parsed
from tests.operator.sample import sample

MODEL = "ByteDance-Seed/Seed-Coder-8B-Base"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
GATE = {"maxDrop": 0.02, "apiKeySecretRef": "eval-key", "limit": 40}


def one_pool(precision: str, gate: dict[str, Any] | None = GATE) -> dict[str, Any]:
    engine: dict[str, Any] = {"precision": precision, "cache": {"pvc": {"claimName": "engine-cache"}}}
    if gate is not None:
        engine["gate"] = gate
    return sample(name="solo", pools=[{"name": "h100", "gpu": "H100", "minReplicas": 2, "maxReplicas": 4}],
                  engine=engine)  # fmt: skip


def summary(serving_fills: bool, candidate_fills: bool) -> str:
    """``seedcoder evaluate --summary`` of the pinned serving pool and its candidate."""
    tasks = public_tasks()[:40]
    truth = {(t.prefix, t.suffix): t.middle for t in tasks}

    def engine(fills: bool) -> Any:
        return lambda prefix, suffix: truth[(prefix, suffix)] if fills else ""

    runs = []
    for model, fills in (
        (engine_gate.pinned_model(MODEL, "h100"), serving_fills),
        (engine_gate.pinned_model(MODEL, engine_gate.candidate_pool("h100")), candidate_fills),
    ):
        report = evaluate("public", tasks, engine(fills), run_tests=False)
        runs.append({"model": model, "sets": {"public": report.summary()}})
    return json.dumps({"runs": runs}, separators=(",", ":"))


def world(
    *, canary_ready: int | None = None, gate_job: GateJobView | None = None, precision: str = "bf16"
) -> tuple[Any, Any, Observed, str, str]:
    """The pool serves its FP8 engine; the spec now asks for ``precision``, already built."""
    _old_scd, old_pools = parsed(one_pool("fp8"))
    scd, pools = parsed(one_pool(precision))
    old_key, new_key = old_pools[0].key, pools[0].key
    observed = Observed(
        jobs={k: job(k, complete=True) for k in (old_key, new_key)},
        triton={"h100": deployment("solo-triton-h100", old_key, replicas=2, ready=2)},
        gateway=deployment("solo-gateway", "", replicas=2, ready=2),
        read_at=NOW,
    )
    if canary_ready is not None:
        observed.canaries["h100"] = deployment("solo-canary-h100", new_key, ready=canary_ready)
    if gate_job is not None:
        observed.gate_jobs[gate_job.name] = gate_job
    return scd, pools, observed, old_key, new_key


def gate_job(
    scd: Any, old: str, new: str, *, complete: bool = True, failed: bool = False, text: str | None = None,
    finished: datetime = NOW - timedelta(minutes=5),
) -> GateJobView:  # fmt: skip
    name = engine_gate.job_name("solo", "h100", old, new, scd.spec.engine.gate)
    return GateJobView(
        name, "h100", old, new, complete, failed, text, "exit code 1" if failed else "", finished
    )


def kinds(p: Any) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m["kind"], m["metadata"]["name"]): m for m in p.owned}


def gateway_pools(p: Any) -> dict[str, Any]:
    cm = kinds(p)[("ConfigMap", "solo-gateway")]
    cfg = GatewayConfig.model_validate_json(cm["data"]["gateway.json"])
    return {pool.name: pool for pool in cfg.pools}


def test_a_built_engine_first_serves_a_one_replica_canary_the_gateway_lists_as_candidate() -> None:
    scd, pools, observed, old, new = world()
    p = plan(scd, pools, observed, SETTINGS)
    objs = kinds(p)
    assert p.serving == {"h100": old}, "the pool keeps serving its engine"
    assert "solo-triton-h100" in p.kept
    assert ("Deployment", "solo-triton-h100") not in objs
    canary = objs[("Deployment", "solo-canary-h100")]
    assert canary["spec"]["replicas"] == 1
    assert canary["metadata"]["labels"][names.LABEL_ENGINE_KEY] == new
    selector = canary["spec"]["selector"]["matchLabels"]
    pool_service = objs[("Service", "solo-triton-h100")]["spec"]["selector"]
    pod_labels = canary["spec"]["template"]["metadata"]["labels"]
    assert not pool_service.items() <= pod_labels.items(), "the pool's Service never selects the canary"
    assert selector.items() <= pod_labels.items()
    args = canary["spec"]["template"]["spec"]["containers"][0]["args"]
    assert any(new in a for a in args if a.startswith("--model-repository")), "it serves the new engine"
    svc = objs[("Service", "solo-canary-h100")]
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["selector"] == selector
    listed = gateway_pools(p)
    assert listed["h100"].candidate is False
    cand = listed["h100.candidate"]
    assert cand.candidate is True
    assert cand.grpc_url.startswith("solo-canary-h100.ml.svc.")
    assert not [m for m in p.owned if m["kind"] == "Job"], "no evaluation before the canary is ready"
    assert p.gates["h100"].stage == "Canary"


def test_the_evaluation_job_scores_both_engines_pinned_through_the_gateway_once_the_canary_is_ready() -> None:
    scd, pools, observed, old, new = world(canary_ready=1)
    p = plan(scd, pools, observed, SETTINGS)
    jobs = [m for m in p.owned if m["kind"] == "Job"]
    assert len(jobs) == 1
    j = jobs[0]
    assert j["metadata"]["name"] == engine_gate.job_name("solo", "h100", old, new, scd.spec.engine.gate)
    assert len(j["metadata"]["name"]) <= 63
    labels = j["metadata"]["labels"]
    assert labels[engine_gate.LABEL_SERVING_KEY] == old
    assert labels[engine_gate.LABEL_CANDIDATE_KEY] == new
    c = j["spec"]["template"]["spec"]["containers"][0]
    cmd = c["command"]
    assert cmd[:2] == ["seedcoder", "evaluate"]
    assert cmd[cmd.index("--model") + 1] == f"{MODEL}@h100"
    assert cmd[cmd.index("--compare-model") + 1] == f"{MODEL}@h100.candidate"
    assert cmd[cmd.index("--endpoint") + 1] == "http://solo-gateway.ml.svc.cluster.local:8000/v1"
    assert cmd[cmd.index("--limit") + 1] == "40"
    assert "--wait-ready" in cmd
    assert c["env"][0]["valueFrom"]["secretKeyRef"] == {"name": "eval-key", "key": "api-key"}
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert "ttlSecondsAfterFinished" not in j["spec"], "the Job is the verdict's record"
    assert ("Deployment", "solo-canary-h100") in kinds(p), "the canary serves the evaluation"


def test_a_regressed_engine_is_held_back_with_the_numbers_and_a_warning() -> None:
    scd, pools, observed, old, new = world(canary_ready=1)
    observed.gate_jobs = {}
    gj = gate_job(scd, old, new, text=summary(serving_fills=True, candidate_fills=False))
    observed.gate_jobs[gj.name] = gj
    p = plan(scd, pools, observed, SETTINGS)
    objs = kinds(p)
    assert p.serving == {"h100": old}
    assert ("Deployment", "solo-canary-h100") not in objs, "the canary goes"
    assert "h100.candidate" not in gateway_pools(p)
    assert ("Job", gj.name) in objs, "the Job stays as the record of the verdict"
    status, transitions = compute(
        scd, pools, observed, p, None, endpoint="http://gw/v1", retry_seconds=600, now="2026-12-01T12:00:00Z"
    )
    gate = status.pools[0].engine_gate
    assert gate is not None
    assert gate.state == "Regressed"
    assert gate.reason == "EngineRegressed"
    assert gate.edit_similarity_deltas is not None
    assert gate.edit_similarity_deltas["public"] < -0.5
    assert "public edit similarity fell by" in gate.message
    assert gate.serving_scores is not None
    assert gate.candidate_scores is not None
    assert (gate.serving_scores["public"].tasks, gate.serving_scores["public"].exact_match) == (40, 1.0)
    assert gate.candidate_scores["public"].edit_similarity == 0.0
    cond = next(c for c in status.conditions if c.type == "EngineGate")
    assert (cond.status, cond.reason) == ("False", "EngineRegressed")
    progressing = next(c for c in status.conditions if c.type == "Progressing")
    assert (progressing.status, progressing.reason) == ("False", "EngineGateHeld")
    assert status.phase == "Degraded"
    news = [t for t in transitions if events.worth_an_event(t) and t.type == "EngineGate"]
    assert news
    assert events.event_manifest(scd, news[0], NOW, "op")["type"] == "Warning"


def test_an_engine_within_the_margin_rolls_out_and_its_canary_and_job_go() -> None:
    scd, pools, observed, old, new = world(canary_ready=1)
    gj = gate_job(scd, old, new, text=summary(serving_fills=True, candidate_fills=True))
    observed.gate_jobs[gj.name] = gj
    p = plan(scd, pools, observed, SETTINGS)
    objs = kinds(p)
    assert p.serving == {"h100": new}
    dep = objs[("Deployment", "solo-triton-h100")]
    assert dep["metadata"]["labels"][names.LABEL_ENGINE_KEY] == new
    assert dep["spec"]["replicas"] == 2
    assert ("Deployment", "solo-canary-h100") not in objs
    assert ("Job", gj.name) not in objs
    assert p.gates["h100"].status.reason == "EngineWithinMargin"
    status, _ = compute(
        scd, pools, observed, p, None, endpoint="http://gw/v1", retry_seconds=600, now="2026-12-01T12:00:00Z"
    )
    cond = next(c for c in status.conditions if c.type == "EngineGate")
    assert (cond.status, cond.reason) == ("True", "EngineWithinMargin")


def test_a_finished_job_without_scores_waits_a_moment_then_fails_and_holds_the_engine() -> None:
    scd, pools, observed, old, new = world(canary_ready=1)
    fresh = gate_job(scd, old, new, text=None, finished=NOW - timedelta(seconds=5))
    observed.gate_jobs[fresh.name] = fresh
    assert plan(scd, pools, observed, SETTINGS).gates["h100"].stage == "Evaluating"
    observed.gate_jobs[fresh.name] = gate_job(scd, old, new, text=None)
    p = plan(scd, pools, observed, SETTINGS)
    assert p.gates["h100"].stage == "Failed"
    assert p.gates["h100"].status.reason == "ScoresMissing"
    assert p.serving == {"h100": old}
    observed.gate_jobs[fresh.name] = gate_job(scd, old, new, complete=False, failed=True)
    failed = plan(scd, pools, observed, SETTINGS).gates["h100"]
    assert failed.stage == "Failed"
    assert failed.status.reason == "EvaluationFailed"
    assert "delete it to evaluate again" in failed.status.message


def test_without_a_gate_or_for_a_new_pool_a_built_engine_rolls_out_at_once() -> None:
    _old_scd, old_pools = parsed(one_pool("fp8", gate=None))
    scd, pools = parsed(one_pool("bf16", gate=None))
    observed = Observed(
        jobs={pools[0].key: job(pools[0].key, complete=True)},
        triton={"h100": deployment("solo-triton-h100", old_pools[0].key)},
    )
    p = plan(scd, pools, observed, SETTINGS)
    assert p.serving == {"h100": pools[0].key}
    assert not p.gates
    gated, gpools = parsed(one_pool("bf16"))
    first = plan(gated, gpools, Observed(jobs={gpools[0].key: job(gpools[0].key, complete=True)}), SETTINGS)
    assert first.serving == {"h100": gpools[0].key}
    assert not first.gates, "nothing to compare a first engine with"


def test_a_change_of_gate_settings_or_engines_is_a_new_evaluation() -> None:
    scd, _, _, old, new = world()
    gate = scd.spec.engine.gate
    name = engine_gate.job_name("solo", "h100", old, new, gate)
    assert engine_gate.job_name("solo", "h100", old, new, gate.model_copy(update={"max_drop": 0.05})) != name
    assert engine_gate.job_name("solo", "h100", new, old, gate) != name
    assert engine_gate.job_name("solo", "a100", old, new, gate) != name


def test_network_policies_let_only_the_evaluation_reach_the_gateway_and_the_gateway_reach_the_canary() -> (
    None
):
    scd, pools, observed, _, _ = world(canary_ready=1)
    objs = kinds(plan(scd, pools, observed, SETTINGS))
    triton = objs[("NetworkPolicy", "solo-triton")]["spec"]["podSelector"]
    assert {"key": names.LABEL_COMPONENT, "operator": "In", "values": ["triton", "triton-canary"]} in (
        triton["matchExpressions"]
    )
    gw = objs[("NetworkPolicy", "solo-gateway")]["spec"]
    gate_peer = {
        "podSelector": {"matchLabels": {names.LABEL_INSTANCE: "solo", names.LABEL_COMPONENT: "engine-gate"}}
    }
    assert any(gate_peer in rule["from"] for rule in gw["ingress"])
    gp = objs[("NetworkPolicy", "solo-engine-gate")]["spec"]
    assert "ingress" not in gp
    assert gp["policyTypes"] == ["Ingress", "Egress"]
    assert [r.get("ports") for r in gp["egress"]][1] == [{"protocol": "TCP", "port": 8000}]
    ungated, upools = parsed(one_pool("bf16", gate=None))
    plain = kinds(plan(ungated, upools, Observed(), SETTINGS))
    assert ("NetworkPolicy", "solo-engine-gate") not in plain


@pytest.mark.parametrize(
    ("reason", "warning"),
    [("EngineRegressed", True), ("EvaluationFailed", True), ("EngineWithinMargin", False)],
)
def test_gate_verdicts_are_events(reason: str, warning: bool) -> None:
    scd, *_ = world()
    new = "False" if warning else "True"
    t = Transition("EngineGate", "Unknown", new, reason, "pool h100: ...")  # type: ignore[arg-type]
    assert events.worth_an_event(t)
    assert (events.event_manifest(scd, t, NOW, "op")["type"] == "Warning") is warning

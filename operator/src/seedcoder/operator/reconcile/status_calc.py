"""The resource's status from what was observed (pure): engines, pools, conditions, phase.

Why pure: the status is a function of the observed world, so computing it
without API calls makes it testable with fixed inputs and lets the reconcile
write it only when it differs from the live one. Build progress: stage and
percent come from the build program's report when a pod left one; the state
itself comes from the Job (``Complete`` = the engine is published).
"""

from __future__ import annotations

from dataclasses import dataclass

from seedcoder.api.resource import SeedCoderDeployment
from seedcoder.api.status import (
    MAX_HISTORY,
    AutoscalingStatus,
    EngineStatus,
    Phase,
    PoolStatus,
    ScaleEvent,
    SeedCoderDeploymentStatus,
    SloStatus,
)
from seedcoder.operator.objects import names
from seedcoder.operator.objects.desired import Observed, Plan
from seedcoder.operator.objects.engineplan import PoolEngine, distinct_engines, memory_budget
from seedcoder.operator.objects.observed import JobView
from seedcoder.operator.reconcile.conditions import Transition, Verdict, merge, ready


@dataclass(frozen=True)
class ScalingView:
    """What the autoscaler hook reported this round (or None fields when it did not run)."""

    desired: dict[str, int]
    events: list[ScaleEvent]
    slo: SloStatus | None


def engine_status(
    key: str, group: list[PoolEngine], job: JobView | None, retry_seconds: float
) -> EngineStatus:
    pe = group[0]
    base = {
        "key": key,
        "gpu": pe.profile.gpu,
        "arch": pe.profile.arch,
        "precision": pe.plan.inputs.precision,
        "pools": [g.pool.name for g in group],
        "job": names.build_job(key),
    }
    mb = memory_budget(pe.profile, pe.plan)
    if mb is not None:
        base["memory"] = mb.summary()
    if job is None:
        return EngineStatus(**base, state="Pending", message="Build Job not created yet")
    report = job.latest_report
    stage = report.stage if report else None
    percent = report.percent if report else None
    if job.complete:
        return EngineStatus(
            **base,
            state="Ready",
            stage="done",
            percent=100,
            attempts=job.failed_pods,
            message=(report.message if report and report.message else "Engine built and published"),
        )
    if job.permanent_failure:
        why = job.last_failure or job.failed_message
        return EngineStatus(
            **base,
            state="Failed",
            stage=stage,
            percent=percent,
            attempts=job.failed_pods,
            message=f"Build failed: {why}; not retried (the same inputs fail the same way): fix the "
            f"cause and change the spec, or delete Job {job.name} to try again",
        )
    if job.failed:
        why = job.last_failure or job.failed_message or job.failed_reason
        return EngineStatus(
            **base,
            state="Failed",
            stage=stage,
            percent=percent,
            attempts=job.failed_pods,
            message=f"Build failed ({job.failed_reason}): {why}; "
            f"next attempt {int(retry_seconds)}s after the failure",
        )
    if job.failed_pods:
        message = f"Retrying after {job.failed_pods} failed attempt(s): {job.last_failure}"
    elif report is not None and report.message:
        message = report.message
    else:
        message = "Build running" if job.active else "Build pod pending"
    return EngineStatus(
        **base, state="Building", stage=stage, percent=percent, attempts=job.failed_pods, message=message
    )


def build_progress(engines: list[EngineStatus]) -> str:
    """``kubectl get scd``'s Build column: what each unfinished engine build is doing."""
    parts = []
    for e in engines:
        if e.state == "Building" and e.stage is not None:
            parts.append(f"{e.arch} {e.stage} {e.percent or 0}%")
        elif e.state in ("Building", "Pending", "Failed"):
            parts.append(f"{e.arch} {e.state}")
    return ", ".join(parts)[:256]


def _phase(ready_v: Verdict, engines: list[EngineStatus], available: bool, slo: SloStatus | None) -> Phase:
    if ready_v.status == "True":
        return "Degraded" if slo is not None and slo.met is False else "Ready"
    if ready_v.reason == "InvalidSpec":
        return "Failed"
    if any(e.state == "Failed" for e in engines):
        return "Degraded" if available else "Failed"
    if any(e.state != "Ready" for e in engines):
        return "Degraded" if available and ready_v.reason != "Progressing" else "BuildingEngines"
    return "Deploying"


def feedback_verdict(scd: SeedCoderDeployment) -> Verdict:
    """``FeedbackDurable``: whether feedback events outlive the gateway pods that recorded them."""
    fb = scd.spec.gateway.feedback
    if fb is None:
        return Verdict(
            "FeedbackDurable",
            "False",
            "EmptyDir",
            "Feedback is written to each gateway pod's emptyDir and is lost with the pod; "
            "set spec.gateway.feedback.pvc (ReadWriteMany when replicas > 1) to keep it",
        )
    return Verdict(
        "FeedbackDurable",
        "True",
        "PersistentVolumeClaim",
        f"Every gateway replica writes feedback to claim {fb.pvc.claim_name}",
    )


_VERDICTS = ("Passed", "Regressed", "Failed")
"""Gate states worth keeping in a pool's status after the gate is done with it (the last verdict)."""


def gate_verdict(plan: Plan) -> Verdict:
    """``EngineGate`` (with ``spec.engine.gate``; not part of Ready: the pools serve either way):
    False when a pool's new engine regressed or could not be evaluated, Unknown while one is
    evaluated, else True."""
    gates = plan.gates
    bad = [(p, g) for p, g in gates.items() if g.stage in ("Regressed", "Failed")]
    if bad:
        reason = "EngineRegressed" if any(g.stage == "Regressed" for _, g in bad) else "EvaluationFailed"
        return Verdict(
            "EngineGate", "False", reason, "; ".join(f"pool {p}: {g.status.message}" for p, g in bad)
        )
    pending = [p for p, g in gates.items() if g.stage in ("Canary", "Evaluating")]
    if pending:
        return Verdict(
            "EngineGate", "Unknown", "Evaluating", f"New engines under evaluation: {', '.join(pending)}"
        )
    passed = [(p, g) for p, g in gates.items() if g.stage == "Passed"]
    if passed:
        return Verdict(
            "EngineGate",
            "True",
            "EngineWithinMargin",
            "; ".join(f"pool {p}: {g.status.message}" for p, g in passed),
        )
    return Verdict("EngineGate", "True", "NoChangePending", "Every pool serves the engine it asks for")


def compute(
    scd: SeedCoderDeployment,
    pools: list[PoolEngine],
    observed: Observed,
    plan: Plan,
    scaling: ScalingView | None,
    *,
    endpoint: str,
    retry_seconds: float,
    now: str,
) -> tuple[SeedCoderDeploymentStatus, list[Transition]]:
    """The new status and the condition transitions it makes."""
    old = scd.status
    by_key = distinct_engines(pools)
    engines = [engine_status(k, g, observed.jobs.get(k), retry_seconds) for k, g in by_key.items()]
    n_ready = sum(e.state == "Ready" for e in engines)
    failed = [e for e in engines if e.state == "Failed"]
    if n_ready == len(engines):
        ev = Verdict("EnginesReady", "True", "Built", f"{n_ready} engine(s) ready")
    elif failed:
        ev = Verdict(
            "EnginesReady", "False", "BuildFailed", "; ".join(f"{e.key}: {e.message}" for e in failed)
        )
    else:
        ev = Verdict("EnginesReady", "False", "Building", f"{n_ready}/{len(engines)} engine(s) ready")

    old_pools = {p.name: p for p in old.pools}
    desired = scaling.desired if scaling else {}
    last_scale = {e.pool: e.time for e in (scaling.events if scaling else [])}
    pool_status: list[PoolStatus] = []
    rolling: list[str] = []
    held: list[str] = []
    ready_pools: list[str] = []
    for pe in pools:
        name = pe.pool.name
        dep = observed.triton.get(name)
        prev = old_pools.get(name)
        serving_key = plan.serving.get(name)
        gate = plan.gates.get(name)
        record = gate.status if gate is not None else None
        if record is None and prev is not None and scd.spec.engine.gate is not None:
            kept = prev.engine_gate
            record = kept if kept is not None and kept.state in _VERDICTS else None
        pool_status.append(
            PoolStatus(
                name=name,
                gpu=pe.profile.gpu,
                arch=pe.profile.arch,
                engine_key=dep.engine_key if dep else None,
                replicas=dep.spec_replicas if dep else 0,
                ready_replicas=dep.ready_replicas if dep else 0,
                desired_replicas=desired.get(name, prev.desired_replicas if prev else None),
                last_scale_time=last_scale.get(name, prev.last_scale_time if prev else None),
                engine_gate=record,
            )
        )
        if dep is not None and dep.ready_replicas > 0:
            ready_pools.append(name)
        if gate is not None and gate.stage in ("Regressed", "Failed"):
            held.append(name)  # the gate keeps the pool on its engine: the rollout stopped, on purpose
        elif dep is None or serving_key != pe.key or dep.engine_key != pe.key or not dep.rolled_out:
            rolling.append(name)

    gw = observed.gateway
    if not ready_pools:
        av = Verdict("Available", "False", "NoReadyPool", "No pool has a ready Triton replica")
    elif gw is None or gw.available_replicas == 0:
        av = Verdict("Available", "False", "GatewayUnavailable", "The gateway has no available replica")
    else:
        av = Verdict("Available", "True", "Serving", f"Ready pools: {', '.join(ready_pools)}")
    if ev.status != "True":
        pv = Verdict("Progressing", "True", "BuildingEngines", ev.message)
    elif rolling:
        pv = Verdict("Progressing", "True", "RollingOut", f"Pools rolling out: {', '.join(rolling)}")
    elif held:
        pv = Verdict(
            "Progressing",
            "False",
            "EngineGateHeld",
            f"Pools kept on their engine by the engine gate: {', '.join(held)} (see condition EngineGate)",
        )
    else:
        pv = Verdict("Progressing", "False", "Complete", "Every pool serves the desired engine")
    slo = scaling.slo if scaling and scaling.slo else old.slo
    verdicts = [ev, av, pv]
    if slo is not None and slo.met is not None:
        verdicts.append(
            Verdict(
                "SLOMet",
                "True" if slo.met else "False",
                "WithinObjective" if slo.met else "ObjectiveMissed",
                f"p95 TTFT {slo.ttft_p95_ms} ms, objective {scd.spec.slo.ttft_p95_ms} ms",
            )
        )
    ready_v = ready(verdicts)
    # informational, not rolled into Ready: serving works either way, but the data set may not last
    info = [feedback_verdict(scd)]
    if scd.spec.engine.gate is not None:
        info.append(gate_verdict(plan))
    conditions, transitions = merge(old.conditions, [ready_v, *verdicts, *info], scd.metadata.generation, now)
    history = list(old.autoscaling.history if old.autoscaling else []) + (scaling.events if scaling else [])
    status = SeedCoderDeploymentStatus(
        phase="Degraded"
        if held and ready_v.status == "True"
        else _phase(ready_v, engines, av.status == "True", slo),
        observed_generation=scd.metadata.generation,
        conditions=conditions,
        engines=engines,
        engines_summary=f"{n_ready}/{len(engines)}",
        build_progress=build_progress(engines),
        pools=pool_status,
        slo=slo,
        autoscaling=AutoscalingStatus(history=history[-MAX_HISTORY:]) if history else old.autoscaling,
        endpoint=endpoint if plan.gateway_deployed else None,
    )
    return status, transitions


def invalid(
    scd: SeedCoderDeployment, field: str, message: str, now: str
) -> tuple[SeedCoderDeploymentStatus, list[Transition]]:
    """Status of a spec the operator cannot serve: ``Ready=False, reason=InvalidSpec`` naming the field."""
    text = f"{field}: {message}"
    verdicts = [Verdict("Ready", "False", "InvalidSpec", text)]
    conditions, transitions = merge(scd.status.conditions, verdicts, scd.metadata.generation, now)
    keep = [c for c in scd.status.conditions if c.type != "Ready"]
    return (
        scd.status.model_copy(
            update={
                "phase": "Failed",
                "observed_generation": scd.metadata.generation,
                "conditions": conditions + keep,
            }
        ),
        transitions,
    )

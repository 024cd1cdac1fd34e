"""Status is a pure function of what was observed; an unchanged world gives an equal status."""

from __future__ import annotations

from seedcoder.api.resource import SeedCoderDeployment
from seedcoder.operator.objects.desired import Observed, plan
from seedcoder.operator.reconcile.status_calc import compute, invalid

from tests.operator.helpers import SETTINGS, all_built, deployment, job, parsed
from tests.operator.sample import live, sample

T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:10:00Z"


def _status(scd: SeedCoderDeployment, pools, observed: Observed, now: str = T0):  # type: ignore[no-untyped-def]
    p = plan(scd, pools, observed, SETTINGS)
    return compute(scd, pools, observed, p, None, endpoint="http://gw/v1", retry_seconds=600, now=now)


def _cond(status, ctype):  # type: ignore[no-untyped-def]
    return next(c for c in status.conditions if c.type == ctype)


def test_building_engines() -> None:
    scd, pools = parsed()
    observed = Observed(jobs={pools[0].key: job(pools[0].key, active=1)})
    status, transitions = _status(scd, pools, observed)
    assert status.phase == "BuildingEngines"
    assert status.engines_summary == "0/2"
    assert [e.state for e in status.engines] == ["Building", "Pending"]
    assert _cond(status, "Ready").status == "False"
    assert {t.type for t in transitions} == {
        "Ready", "EnginesReady", "Available", "Progressing", "FeedbackDurable"
    }  # fmt: skip
    assert status.endpoint is None


def test_ready_when_every_pool_serves_and_the_gateway_is_up() -> None:
    scd, pools = parsed()
    observed = all_built(pools)
    for pe in pools:
        observed.triton[pe.pool.name] = deployment(f"completions-triton-{pe.pool.name}", pe.key)
    observed.gateway = deployment("completions-gateway", "", replicas=2, ready=2)
    status, _ = _status(scd, pools, observed)
    assert (status.phase, _cond(status, "Ready").status, status.engines_summary) == ("Ready", "True", "2/2")
    assert status.endpoint == "http://gw/v1"
    # same world, later: equal status (so nothing is written) and no transitions
    again = SeedCoderDeployment.parse({**live(sample()), "status": status.wire()})
    status2, transitions2 = _status(again, pools, observed, now=T1)
    assert status2 == again.status
    assert transitions2 == []


def test_failed_build_reason_reaches_engine_status() -> None:
    scd, pools = parsed()
    observed = Observed(jobs={pe.key: job(pe.key, failed=True, failed_pods=4) for pe in pools})
    status, _ = _status(scd, pools, observed)
    assert status.phase == "Failed"
    assert status.engines[0].state == "Failed"
    assert status.engines[0].attempts == 4
    assert "BackoffLimitExceeded" in status.engines[0].message
    assert _cond(status, "EnginesReady").reason == "BuildFailed"


def test_invalid_spec_names_the_field() -> None:
    scd, _ = parsed()
    status, transitions = invalid(scd, "spec.gateway.maxContextTokens", "too big", T0)
    ready = _cond(status, "Ready")
    assert (status.phase, ready.status, ready.reason) == ("Failed", "False", "InvalidSpec")
    assert ready.message.startswith("spec.gateway.maxContextTokens")
    assert transitions[0].reason == "InvalidSpec"


def test_autoscaler_outcome_lands_in_status_and_history_is_bounded() -> None:
    from seedcoder.api.status import ScaleEvent, SloStatus
    from seedcoder.operator.reconcile.status_calc import ScalingView

    scd, pools = parsed()
    observed = all_built(pools)
    p = plan(scd, pools, observed, SETTINGS)
    events = [
        ScaleEvent.model_validate(
            {"time": T0, "pool": "h100", "from": i, "to": i + 1, "reason": "p95 above SLO"}
        )
        for i in range(25)
    ]
    scaling = ScalingView(
        desired={"h100": 3}, events=events, slo=SloStatus(ttft_p95_ms=410, met=False, observed_at=T0)
    )
    status, _ = compute(scd, pools, observed, p, scaling, endpoint="e", retry_seconds=1, now=T0)
    assert status.autoscaling is not None
    assert len(status.autoscaling.history) == 20
    assert status.autoscaling.history[-1].to == 25
    assert status.pools[0].desired_replicas == 3
    assert status.pools[0].last_scale_time == T0
    slo_met = _cond(status, "SLOMet")
    assert (slo_met.status, slo_met.reason) == ("False", "ObjectiveMissed")


def test_unreadable_old_status_counts_as_empty() -> None:
    body = {**live(sample()), "status": {"phase": "Exploded", "conditions": "nope"}}
    assert SeedCoderDeployment.parse(body).status.phase == "Pending"

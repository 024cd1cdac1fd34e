"""The operator's metrics follow what its reconciles observed and what the autoscaler decided.

Samples come from the same pure functions the reconcile uses (observed state ->
status -> sample) and go into a real ``OperatorMetrics`` registry, read back with
prometheus_client's own sample lookup.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from seedcoder import metricnames as mn
from seedcoder.api.resource import SeedCoderDeployment
from seedcoder.api.status import ScaleEvent
from seedcoder.operator.metrics import OperatorMetrics
from seedcoder.operator.objects import names
from seedcoder.operator.objects.desired import Observed, plan
from seedcoder.operator.objects.engineplan import PoolEngine
from seedcoder.operator.objects.observed import parse_job
from seedcoder.operator.reconcile.metrics_sample import ResourceSample, decisions, invalid_sample, sample
from seedcoder.operator.reconcile.status_calc import ScalingView, compute

from tests.operator.helpers import SETTINGS, all_built, deployment, job, parsed


def _sample(
    scd: SeedCoderDeployment, pools: list[PoolEngine], observed: Observed, scaling: ScalingView | None = None
) -> ResourceSample:
    p = plan(scd, pools, observed, SETTINGS)
    status, _ = compute(
        scd,
        pools,
        observed,
        p,
        scaling,
        endpoint="http://gw/v1",
        retry_seconds=600,
        now="2026-01-01T00:00:00Z",
    )
    return sample(scd, pools, status, observed.jobs.values(), scaling.events if scaling else ())


def _value(m: OperatorMetrics, name: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(name, labels)


def _event(pool: str, from_: int, to: int) -> ScaleEvent:
    return ScaleEvent.model_validate(
        {"time": "2026-01-01T00:00:00Z", "pool": pool, "from": from_, "to": to, "reason": "test"}
    )


def _serving(pools: list[PoolEngine], ready: dict[str, int]) -> Observed:
    observed = all_built(pools)
    for pe in pools:
        n = ready[pe.pool.name]
        observed.triton[pe.pool.name] = deployment(
            f"completions-triton-{pe.pool.name}", pe.key, replicas=2, ready=n
        )
    return observed


def test_pool_gauges_follow_status_and_autoscaler() -> None:
    scd, pools = parsed()
    m = OperatorMetrics()
    scaling = ScalingView(desired={"h100": 3}, events=[_event("h100", 2, 3)], slo=None)
    m.record(_sample(scd, pools, _serving(pools, {"h100": 2, "a100": 1}), scaling))
    h100 = {"namespace": "ml", "deployment": "completions", "pool": "h100"}
    a100 = {**h100, "pool": "a100"}
    assert _value(m, mn.AUTOSCALER_DESIRED_REPLICAS, **h100) == 3  # the autoscaler's request
    assert _value(m, mn.AUTOSCALER_DESIRED_REPLICAS, **a100) == 2  # none: the Deployment's replicas
    assert _value(m, mn.AUTOSCALER_READY_REPLICAS, **h100) == 2
    assert _value(m, mn.AUTOSCALER_POOL_GPUS, **h100, gpu="H100") == 2
    assert _value(m, mn.AUTOSCALER_POOL_GPUS, **a100, gpu="A100") == 1
    assert _value(m, mn.AUTOSCALER_DECISIONS_TOTAL, **h100, direction="up") == 1
    assert _value(m, mn.OPERATOR_ENGINE_BUILDS, arch="sm90", state="Ready") == 1
    assert _value(m, mn.OPERATOR_ENGINE_BUILDS, arch="sm90", state="Building") == 0

    # a later round without an autoscaler outcome keeps the last desired value (from the status)
    m.record(_sample(scd, pools, _serving(pools, {"h100": 1, "a100": 1})))
    assert _value(m, mn.AUTOSCALER_READY_REPLICAS, **h100) == 1
    assert _value(m, mn.AUTOSCALER_DECISIONS_TOTAL, **h100, direction="up") == 1


def test_removed_pool_and_deleted_resource_leave_no_series() -> None:
    scd, pools = parsed()
    m = OperatorMetrics()
    m.record(
        _sample(
            scd, pools, _serving(pools, {"h100": 1, "a100": 1}), ScalingView({}, [_event("a100", 2, 1)], None)
        )
    )
    m.record(_sample(scd, pools[:1], _serving(pools[:1], {"h100": 1})))  # pool a100 removed from the spec
    labels = {"namespace": "ml", "deployment": "completions"}
    assert _value(m, mn.AUTOSCALER_READY_REPLICAS, **labels, pool="a100") is None
    assert _value(m, mn.AUTOSCALER_READY_REPLICAS, **labels, pool="h100") == 1
    assert _value(m, mn.AUTOSCALER_DECISIONS_TOTAL, **labels, pool="a100", direction="down") == 1

    m.forget(scd.metadata.uid)
    assert _value(m, mn.AUTOSCALER_READY_REPLICAS, **labels, pool="h100") is None
    m.record(_sample(scd, pools[:1], _serving(pools[:1], {"h100": 1})))  # a reconcile racing the deletion
    assert _value(m, mn.AUTOSCALER_READY_REPLICAS, **labels, pool="h100") is None
    assert _value(m, mn.AUTOSCALER_DECISIONS_TOTAL, **labels, pool="a100", direction="down") is None
    assert _value(m, mn.OPERATOR_ENGINE_BUILDS, arch="sm90", state="Ready") == 0


def test_invalid_spec_drops_the_resources_series() -> None:
    scd, pools = parsed()
    m = OperatorMetrics()
    m.record(_sample(scd, pools, _serving(pools, {"h100": 1, "a100": 1})))
    m.record(invalid_sample(scd))
    assert (
        _value(m, mn.AUTOSCALER_DESIRED_REPLICAS, namespace="ml", deployment="completions", pool="h100")
        is None
    )


def test_engines_shared_by_two_resources_count_once() -> None:
    scd, pools = parsed()
    m = OperatorMetrics()
    observed = Observed(jobs={pools[0].key: job(pools[0].key, active=1)})
    first = _sample(scd, pools, observed)
    m.record(first)
    m.record(dataclasses.replace(first, uid="another-resource", name="other"))
    assert _value(m, mn.OPERATOR_ENGINE_BUILDS, arch="sm90", state="Building") == 1
    assert _value(m, mn.OPERATOR_ENGINE_BUILDS, arch="sm80", state="Pending") == 1


def _job(uid: str, start: datetime, end: datetime, *, complete: bool | None = True) -> dict[str, Any]:
    """A build Job as the API server shows it: completed, failed (False) or still running (None)."""
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    status: dict[str, Any] = {"startTime": start.strftime(stamp)}
    if complete is not None:
        kind = "Complete" if complete else "Failed"
        status["conditions"] = [{"type": kind, "status": "True", "lastTransitionTime": end.strftime(stamp)}]
    if complete:
        status["completionTime"] = end.strftime(stamp)
    return {
        "metadata": {
            "name": f"seedcoder-engine-{uid}",
            "uid": uid,
            "labels": {names.LABEL_ENGINE_KEY: uid, names.LABEL_ARCH: "sm90"},
        },
        "status": status,
    }


def test_build_durations_are_observed_once_and_only_for_builds_finished_while_running() -> None:
    scd, pools = parsed()
    m = OperatorMetrics()
    now = m.started_at.replace(microsecond=0) + timedelta(seconds=1)
    jobs = [
        parse_job(_job("old", now - timedelta(hours=2), now - timedelta(hours=1))),  # before this process
        parse_job(_job("done", now, now + timedelta(minutes=20))),
        parse_job(_job("failed", now, now + timedelta(minutes=5), complete=False)),
        parse_job(_job("running", now, now, complete=None)),
    ]
    assert [j.arch for j in jobs] == ["sm90"] * 4
    observed = Observed(jobs={j.key: j for j in jobs})
    for _ in range(2):  # every reconcile sees the same finished Jobs
        m.record(_sample(scd, pools, observed))
    assert _value(m, mn.OPERATOR_ENGINE_BUILD_SECONDS + "_count", arch="sm90") == 2
    assert _value(m, mn.OPERATOR_ENGINE_BUILD_SECONDS + "_sum", arch="sm90") == 25 * 60


def test_a_decision_that_keeps_the_count_is_not_a_step() -> None:
    assert decisions([_event("h100", 2, 2), _event("h100", 2, 4), _event("a100", 1, 0)]) == (
        ("h100", "up"),
        ("a100", "down"),
    )

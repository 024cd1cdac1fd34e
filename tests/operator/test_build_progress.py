"""A build shows stage and percent while it runs; a permanent failure stops at once with its own error."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from seedcoder.api.resource import SeedCoderDeployment
from seedcoder.api.status import SeedCoderDeploymentStatus
from seedcoder.engines.build import EXIT_PERMANENT
from seedcoder.engines.report import BuildReport
from seedcoder.operator.objects.build_job import build_job
from seedcoder.operator.objects.desired import Observed, plan
from seedcoder.operator.objects.engineplan import PoolEngine
from seedcoder.operator.objects.observed import JobView, parse_job
from seedcoder.operator.reconcile.jobsync import retry_due
from seedcoder.operator.reconcile.status_calc import compute
from seedcoder.operator.settings import OperatorSettings

from tests.operator.helpers import SETTINGS, parsed

T0 = "2026-01-01T00:00:00Z"
JOB: dict[str, Any] = {
    "metadata": {"name": "seedcoder-engine-abc", "uid": "u1", "resourceVersion": "9", "labels": {}},
    "status": {"active": 1},
}


def _status(
    scd: SeedCoderDeployment, pools: list[PoolEngine], observed: Observed
) -> SeedCoderDeploymentStatus:
    p = plan(scd, pools, observed, SETTINGS)
    status, _ = compute(scd, pools, observed, p, None, endpoint="x", retry_seconds=600, now="t")
    return status


def _running_pod(name: str = "p1") -> dict[str, Any]:
    """A running build pod: no termination message yet (the kubelet writes it at exit)."""
    return {
        "metadata": {"name": name, "creationTimestamp": "2026-01-01T00:00:00Z", "labels": {"job-name": "j"}},
        "status": {"phase": "Running", "containerStatuses": [{"name": "build", "state": {"running": {}}}]},
    }


def _log(key: str, stage: str, percent: int) -> str:
    lines = [
        BuildReport(key=key, state="Running", stage="fetch", percent=5, message="Fetching").to_line(),
        "[TensorRT-LLM] some library output",
        BuildReport(key=key, state="Running", stage=stage, percent=percent, message="Calibrating").to_line(),  # type: ignore[arg-type]
    ]
    return "\n".join(lines) + "\n"


def test_a_running_build_reports_stage_and_percent_from_its_log() -> None:
    scd, pools = parsed()
    key = pools[0].key
    job = {**JOB, "metadata": {**JOB["metadata"], "labels": {"seedcoder.dev/engine-key": key}}}
    view = parse_job(job, [_running_pod()], {"p1": _log(key, "quantize", 40)})
    observed = Observed(jobs={key: view})
    status, _ = compute(
        scd,
        pools,
        observed,
        plan(scd, pools, observed, SETTINGS),
        None,
        endpoint="x",
        retry_seconds=600,
        now="t",
    )
    engine = status.engines[0]
    assert (engine.state, engine.stage, engine.percent) == ("Building", "quantize", 40)
    assert engine.message == "Calibrating"
    assert status.build_progress == "sm90 quantize 40%, sm80 Pending"


def test_without_a_log_the_view_has_no_report() -> None:
    view = parse_job(JOB, [_running_pod()])
    assert view.latest_report is None


def _failed_job(key: str, reason: str, message: str) -> JobView:
    report = BuildReport(key=key, state="Failed", stage="quantize", percent=25, message=message).to_line()
    pod = {
        "metadata": {"name": "p1", "creationTimestamp": "2026-01-01T00:00:00Z", "labels": {"job-name": "j"}},
        "status": {
            "phase": "Failed",
            "containerStatuses": [
                {
                    "name": "build",
                    "state": {
                        "terminated": {"exitCode": EXIT_PERMANENT, "reason": "Error", "message": report}
                    },
                }
            ],
        },
    }
    job: dict[str, Any] = {
        "metadata": {
            "name": f"seedcoder-engine-{key}",
            "uid": "u1",
            "resourceVersion": "9",
            "labels": {"seedcoder.dev/engine-key": key},
        },
        "status": {
            "failed": 1,
            "conditions": [
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": reason,
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }
            ],
        },
    }
    return parse_job(job, [pod])


def test_a_permanent_failure_shows_the_builds_own_error_and_is_not_retried() -> None:
    scd, pools = parsed()
    key = pools[0].key
    view = _failed_job(key, "PodFailurePolicy", "precision int8-sq needs calibration data")
    observed = Observed(jobs={key: view})
    status, _ = compute(
        scd,
        pools,
        observed,
        plan(scd, pools, observed, SETTINGS),
        None,
        endpoint="x",
        retry_seconds=600,
        now="t",
    )
    engine = status.engines[0]
    assert engine.state == "Failed"
    assert "needs calibration data" in engine.message
    assert "not retried" in engine.message
    assert engine.attempts == 1
    later = datetime(2026, 1, 2, tzinfo=UTC)
    assert not retry_due(view, later, OperatorSettings())
    transient = _failed_job(key, "BackoffLimitExceeded", "unexpected error")
    assert retry_due(transient, later, OperatorSettings())


def test_the_build_job_fails_at_once_on_the_build_programs_permanent_exit_codes() -> None:
    scd, pools = parsed()
    job = build_job(scd.spec, pools[0], "ml", SETTINGS)
    rules = job["spec"]["podFailurePolicy"]["rules"]
    assert rules[0] == {
        "action": "FailJob",
        "onExitCodes": {"containerName": "build", "operator": "In", "values": [2, EXIT_PERMANENT]},
    }
    assert rules[1]["action"] == "Ignore"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"  # required by podFailurePolicy

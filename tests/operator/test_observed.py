"""Build progress is read back from real build-program output and from Job state."""

from __future__ import annotations

from typing import Any

from seedcoder.engines.report import BuildReport
from seedcoder.operator.objects.observed import parse_deployment, parse_job


def _pod(
    name: str, created: str, *, phase: str, message: str | None = None, exit_code: int = 0
) -> dict[str, Any]:
    terminated: dict[str, Any] = {"exitCode": exit_code, "reason": "Error" if exit_code else "Completed"}
    if message is not None:
        terminated["message"] = message
    return {
        "metadata": {"name": name, "creationTimestamp": created, "labels": {"job-name": "j"}},
        "status": {
            "phase": phase,
            "containerStatuses": [{"name": "build", "state": {"terminated": terminated}}],
        },
    }


def _job(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "seedcoder-engine-abc",
            "uid": "u1",
            "resourceVersion": "9",
            "labels": {"seedcoder.dev/engine-key": "abc"},
        },
        "status": status,
    }


def test_stage_and_percent_come_from_the_termination_message() -> None:
    line = BuildReport(
        key="abc", state="Running", stage="quantize", percent=40, message="calibrating"
    ).to_line()
    view = parse_job(_job(active=1), [_pod("p1", "2026-01-01T00:00:00Z", phase="Running", message=line)])
    report = view.latest_report
    assert report is not None
    assert (report.stage, report.percent, report.message) == ("quantize", 40, "calibrating")


def test_log_tail_fallback_still_finds_the_report() -> None:
    line = BuildReport(key="abc", state="Failed", stage="fetch", percent=5, message="403 from S3").to_line()
    text = "Traceback (most recent call last):\n  ...\n" + line + "\nbye\n"
    view = parse_job(
        _job(failed=1), [_pod("p1", "2026-01-01T00:00:00Z", phase="Failed", message=text, exit_code=1)]
    )
    assert view.last_failure == "403 from S3 (exit code 1)"


def test_without_a_message_the_job_alone_decides() -> None:
    complete = _job(succeeded=1, conditions=[{"type": "Complete", "status": "True"}])
    view = parse_job(complete, [_pod("p1", "2026-01-01T00:00:00Z", phase="Succeeded")])
    assert view.complete
    assert view.latest_report is None


def test_newest_failed_pod_explains_the_failure() -> None:
    job = _job(
        failed=2,
        conditions=[
            {
                "type": "Failed",
                "status": "True",
                "reason": "BackoffLimitExceeded",
                "lastTransitionTime": "2026-01-01T00:01:00Z",
            }
        ],
    )
    pods = [
        _pod("old", "2026-01-01T00:00:00Z", phase="Failed", exit_code=2),
        _pod("new", "2026-01-01T00:00:30Z", phase="Failed", exit_code=137),
    ]
    view = parse_job(job, pods)
    assert view.failed
    assert view.failed_pods == 2
    assert view.failed_reason == "BackoffLimitExceeded"
    assert view.last_failure == "Error (exit code 137)"


def test_replica_ownership_is_read_from_managed_fields() -> None:
    dep = {
        "metadata": {
            "name": "d",
            "labels": {},
            "generation": 2,
            "managedFields": [
                {
                    "manager": "seedcoder-operator",
                    "operation": "Apply",
                    "fieldsV1": {"f:spec": {"f:template": {}}},
                },
                {
                    "manager": "seedcoder-autoscaler",
                    "operation": "Update",
                    "subresource": "scale",
                    "fieldsV1": {"f:spec": {"f:replicas": {}}},
                },
            ],
        },
        "spec": {"replicas": 3},
        "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3},
    }
    view = parse_deployment(dep, "seedcoder-operator")
    assert not view.operator_owns_replicas
    assert view.rolled_out
    assert view.spec_replicas == 3

"""Helpers that build observed state for pure tests of the operator."""

from __future__ import annotations

from typing import Any

from seedcoder.api.resource import SeedCoderDeployment
from seedcoder.operator.objects.desired import Observed
from seedcoder.operator.objects.engineplan import PoolEngine, plan_engines
from seedcoder.operator.objects.observed import DeploymentView, JobView
from seedcoder.operator.settings import OperatorSettings

from tests.operator.sample import live, sample

SETTINGS = OperatorSettings(gateway_image="registry.example/seedcoder:0.1.0")


def parsed(manifest: dict[str, Any] | None = None) -> tuple[SeedCoderDeployment, list[PoolEngine]]:
    scd = SeedCoderDeployment.parse(live(manifest or sample()))
    return scd, plan_engines(scd.spec, SETTINGS)


def job(
    key: str, *, complete: bool = False, failed: bool = False, failed_pods: int = 0, active: int = 0
) -> JobView:
    return JobView(
        name=f"seedcoder-engine-{key}",
        key=key,
        uid=f"uid-{key}",
        resource_version="7",
        owners=(),
        complete=complete,
        failed=failed,
        failed_reason="BackoffLimitExceeded" if failed else "",
        failed_message="Job has reached the specified backoff limit" if failed else "",
        failed_at="2026-01-01T00:00:00Z" if failed else "",
        active=active,
        failed_pods=failed_pods,
    )


def deployment(
    name: str, key: str, *, replicas: int = 1, ready: int = 1, owns: bool = True
) -> DeploymentView:
    return DeploymentView(
        name=name,
        engine_key=key,
        desired_hash="",
        spec_replicas=replicas,
        ready_replicas=ready,
        available_replicas=ready,
        updated_replicas=replicas,
        status_replicas=replicas,
        generation=1,
        observed_generation=1,
        operator_owns_replicas=owns,
    )


def all_built(pools: list[PoolEngine]) -> Observed:
    return Observed(jobs={pe.key: job(pe.key, complete=True) for pe in pools})

"""What one reconcile saw, in the shape of the operator's metrics (pure).

Why: the autoscaler gauges, engine-build counts and build durations that the
dashboards and alerts read are facts the reconcile already holds (the status it
computed from the observed Deployments and Jobs, and the autoscaler's outcome).
Extracting them here, without a Prometheus client, keeps the reconcile free of
metric bookkeeping and makes the values testable with plain data;
:class:`seedcoder.operator.metrics.OperatorMetrics` publishes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from seedcoder.api.resource import SeedCoderDeployment
from seedcoder.api.status import ScaleEvent, SeedCoderDeploymentStatus
from seedcoder.operator.objects import podsec
from seedcoder.operator.objects.engineplan import PoolEngine
from seedcoder.operator.objects.observed import JobView

Direction = Literal["up", "down"]


@dataclass(frozen=True)
class PoolSample:
    """One pool: what its replicas should be, what is ready, and the GPUs the ready ones hold."""

    pool: str
    gpu: str
    desired: int
    ready: int
    gpus: int


@dataclass(frozen=True)
class EngineSample:
    """One engine this resource needs, and the state of its build."""

    key: str
    arch: str
    state: str


@dataclass(frozen=True)
class FinishedBuild:
    """A build Job that finished (completed or failed), with its duration."""

    uid: str
    arch: str
    seconds: float
    finished_at: datetime


@dataclass(frozen=True)
class ResourceSample:
    """Everything one reconcile of one resource contributes to the metrics."""

    uid: str
    namespace: str
    name: str
    pools: tuple[PoolSample, ...] = ()
    engines: tuple[EngineSample, ...] = ()
    decisions: tuple[tuple[str, Direction], ...] = ()
    """(pool, direction) of each scaling step the autoscaler took this round."""
    finished_builds: tuple[FinishedBuild, ...] = field(default=())
    """Every finished build Job of the namespace (the metrics count each one once)."""


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 timestamp of the API server, or None."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def finished_builds(jobs: Iterable[JobView]) -> tuple[FinishedBuild, ...]:
    out = []
    for job in jobs:
        started, finished = parse_time(job.started_at), parse_time(job.finished_at)
        if started is None or finished is None or not (job.complete or job.failed):
            continue
        seconds = max(0.0, (finished - started).total_seconds())
        out.append(FinishedBuild(uid=job.uid, arch=job.arch, seconds=seconds, finished_at=finished))
    return tuple(out)


def decisions(events: Sequence[ScaleEvent]) -> tuple[tuple[str, Direction], ...]:
    """Scaling steps as (pool, up|down); a "decision" that kept the count is no step."""
    out: list[tuple[str, Direction]] = []
    for e in events:
        if e.to != e.from_:
            out.append((e.pool, "up" if e.to > e.from_ else "down"))
    return tuple(out)


def sample(
    scd: SeedCoderDeployment,
    pools: Sequence[PoolEngine],
    status: SeedCoderDeploymentStatus,
    jobs: Iterable[JobView],
    events: Sequence[ScaleEvent] = (),
) -> ResourceSample:
    """The metrics of one reconciled resource.

    Desired replicas are the autoscaler's last request (``status.pools[].desiredReplicas``),
    or, when it has made none (fixed mode, or before its first round), the replicas
    the pool's Deployment asks for.
    """
    profiles = {pe.pool.name: pe.profile for pe in pools}
    pool_samples = []
    for ps in status.pools:
        profile = profiles.get(ps.name)
        per_replica = podsec.gpu_count(profile) if profile is not None else 0
        pool_samples.append(
            PoolSample(
                pool=ps.name,
                gpu=ps.gpu,
                desired=ps.desired_replicas if ps.desired_replicas is not None else ps.replicas,
                ready=ps.ready_replicas,
                gpus=ps.ready_replicas * per_replica,
            )
        )
    return ResourceSample(
        uid=scd.metadata.uid,
        namespace=scd.metadata.namespace,
        name=scd.metadata.name,
        pools=tuple(pool_samples),
        engines=tuple(EngineSample(key=e.key, arch=e.arch, state=e.state) for e in status.engines),
        decisions=decisions(events),
        finished_builds=finished_builds(jobs),
    )


def invalid_sample(scd: SeedCoderDeployment) -> ResourceSample:
    """A resource whose spec cannot be served contributes nothing (its old series go away)."""
    return ResourceSample(uid=scd.metadata.uid, namespace=scd.metadata.namespace, name=scd.metadata.name)

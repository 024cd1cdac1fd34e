"""Seams where other parts plug into the reconcile: the SLO autoscaler and monitoring objects.

Why explicit seams: the reconcile calls the autoscaler
(``seedcoder.operator.autoscaling.scaling``) and the monitoring generators
(``seedcoder.observability.rules``) through the types defined here, so tests can
hand it fakes. ``seedcoder.operator.main`` imports the real ones directly and
passes them in ``ReconcileDeps``: the route from a metric sample to a replica change is
static imports all the way.

Autoscaler contract (``seedcoder.operator.autoscaling.scaling.autoscale``)::

    async def autoscale(kube: Kube, resource: SeedCoderDeployment,
                        pools: Sequence[ScalablePool], now: datetime,
                        settings: OperatorSettings) -> ScalingOutcome

It runs on the operator's timer for resources with ``spec.autoscaling.mode: slo``,
writes replicas itself (server-side apply of the Deployment's ``spec.replicas``
alone) as field manager ``seedcoder-autoscaler``, and returns what it decided; the reconcile records that
in ``status.pools[].desiredReplicas``, ``status.autoscaling.history`` and
``status.slo`` (and the ``SLOMet`` condition).

Monitoring contract (``seedcoder.observability.rules.monitoring_objects``)::

    def monitoring_objects(resource: SeedCoderDeployment) -> list[dict[str, Any]]

returns PodMonitor / PrometheusRule manifests (namespace = the resource's); the
operator adds labels and the ownerReference and applies them only when the
``monitoring.coreos.com/v1`` API exists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from seedcoder.api.resource import SeedCoderDeployment
from seedcoder.autoscaler import PoolDecision
from seedcoder.operator.kube import Kube
from seedcoder.operator.settings import OperatorSettings


@dataclass(frozen=True)
class ScalablePool:
    """One pool as the autoscaler needs it."""

    name: str
    gpu: str
    namespace: str
    deployment: str
    """Name of the Triton Deployment whose ``spec.replicas`` the autoscaler owns."""
    replicas: int
    ready_replicas: int
    min_replicas: int
    max_replicas: int
    serving: bool
    """False while the pool has no Deployment yet (its engine is still building)."""


@dataclass(frozen=True)
class SloMeasurement:
    ttft_p95_ms: float
    met: bool
    observed_at: datetime


@dataclass(frozen=True)
class ScalingOutcome:
    """What one autoscaler round decided."""

    desired: dict[str, int] = field(default_factory=dict)
    decisions: list[PoolDecision] = field(default_factory=list)
    """The policy's own decisions that changed a pool (``PolicyResult.changes``), as decided."""
    slo: SloMeasurement | None = None


class Autoscale(Protocol):
    async def __call__(
        self,
        kube: Kube,
        resource: SeedCoderDeployment,
        pools: Sequence[ScalablePool],
        now: datetime,
        settings: OperatorSettings,
    ) -> ScalingOutcome: ...


MonitoringObjects = Callable[[SeedCoderDeployment], list[dict[str, Any]]]

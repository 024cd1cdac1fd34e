"""Seams where other parts plug into the reconcile: the SLO autoscaler and monitoring objects.

Why explicit seams: the autoscaler (``seedcoder.operator.scaling``) and the
monitoring generators (``seedcoder.observability.rules``) are written
separately; the reconcile must work with or without them and must not guess
their shapes. The operator calls them through the types defined here and loads
them only if their modules exist.

Autoscaler contract (``seedcoder.operator.scaling.autoscale``)::

    async def autoscale(kube: Kube, resource: SeedCoderDeployment,
                        pools: Sequence[PoolObservation], now: datetime,
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

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, cast

from seedcoder.api.resource import SeedCoderDeployment
from seedcoder.autoscaler import PoolDecision
from seedcoder.operator.kube import Kube
from seedcoder.operator.settings import OperatorSettings


@dataclass(frozen=True)
class PoolObservation:
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
        pools: Sequence[PoolObservation],
        now: datetime,
        settings: OperatorSettings,
    ) -> ScalingOutcome: ...


MonitoringObjects = Callable[[SeedCoderDeployment], list[dict[str, Any]]]


def _optional(module: str, attribute: str) -> Any | None:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.startswith(exc.name):
            return None
        raise
    return getattr(mod, attribute, None)


def load_autoscaler() -> Autoscale | None:
    """``seedcoder.operator.scaling.autoscale`` if that module exists."""
    return cast("Autoscale | None", _optional("seedcoder.operator.scaling", "autoscale"))


def load_monitoring() -> MonitoringObjects | None:
    """``seedcoder.observability.rules.monitoring_objects`` if it exists."""
    return cast("MonitoringObjects | None", _optional("seedcoder.observability.rules", "monitoring_objects"))

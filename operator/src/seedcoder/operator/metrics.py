"""The operator's own Prometheus metrics (names from ``seedcoder.metricnames``).

Why a class on its own registry: tests run several operators in one process, and
a module-level default registry would mix their counts; the instance is created
at start-up and handed to the reconcile through Kopf's memo.

Besides its own work (reconcile duration, errors, API writes) the operator
exports what its reconciles observe and what the autoscaler decided, for the
dashboards and alerts: per pool the desired and ready replicas and the GPUs the
ready replicas hold, scaling decisions, engine builds per architecture and state,
and build durations. Each reconcile hands in a
:class:`~seedcoder.operator.reconcile.metrics_sample.ResourceSample` that replaces the
resource's previous one, so series of removed pools and deleted resources go away.
"""

from __future__ import annotations

from collections import Counter as Tally
from contextlib import suppress
from datetime import UTC, datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    start_http_server,
)

from seedcoder import metricnames as mn
from seedcoder.operator.reconcile.metrics_sample import ResourceSample

ENGINE_STATES = ("Pending", "Building", "Ready", "Failed")
"""Every state a build is counted in; each architecture seen gets all of them (0 when none)."""
BUILD_SECONDS_BUCKETS = (60, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 14400)
"""A TensorRT-LLM build of an 8B model takes tens of minutes (quantisation included)."""
POOL_LABELS = ["namespace", "deployment", "pool"]


class OperatorMetrics:
    """Reconcile duration, errors and API writes; autoscaler and engine-build state."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.started_at = datetime.now(UTC)
        self.reconcile_seconds = Histogram(
            mn.OPERATOR_RECONCILE_SECONDS,
            "Duration of one level-based reconcile of one resource.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.reconcile_errors = Counter(
            mn.OPERATOR_RECONCILE_ERRORS_TOTAL.removesuffix("_total"),
            "Reconciles that failed, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.writes = Counter(
            mn.OPERATOR_WRITES_TOTAL.removesuffix("_total"),
            "Writes the operator sent to the Kubernetes API.",
            ["kind", "verb"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            mn.OPERATOR_QUEUE_DEPTH, "Reconciles waiting for their resource's lock.", registry=self.registry
        )
        self.resources = Gauge(mn.OPERATOR_RESOURCES, "SeedCoderDeployments watched.", registry=self.registry)
        # memory under load, as mn.OPERATOR_MEMORY_BYTES (and the collector's other process_* series)
        ProcessCollector(namespace=mn.OPERATOR_MEMORY_BYTES.removesuffix("_process_resident_memory_bytes"),
                         registry=self.registry)  # fmt: skip
        self.engine_builds = Gauge(
            mn.OPERATOR_ENGINE_BUILDS,
            "Engines the watched resources need, by GPU architecture and build state.",
            ["arch", "state"],
            registry=self.registry,
        )
        self.engine_build_seconds = Histogram(
            mn.OPERATOR_ENGINE_BUILD_SECONDS,
            "Duration of a build Job, start to finish (completed or failed).",
            ["arch"],
            buckets=BUILD_SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.desired_replicas = Gauge(
            mn.AUTOSCALER_DESIRED_REPLICAS,
            "Triton replicas the autoscaler asked for (the Deployment's replicas when it has not).",
            POOL_LABELS,
            registry=self.registry,
        )
        self.ready_replicas = Gauge(
            mn.AUTOSCALER_READY_REPLICAS,
            "Ready Triton replicas of the pool.",
            POOL_LABELS,
            registry=self.registry,
        )
        self.decisions = Counter(
            mn.AUTOSCALER_DECISIONS_TOTAL.removesuffix("_total"),
            "Scaling steps the autoscaler took, by direction.",
            [*POOL_LABELS, "direction"],
            registry=self.registry,
        )
        self.pool_gpus = Gauge(
            mn.AUTOSCALER_POOL_GPUS,
            "GPUs held by the pool's ready replicas.",
            [*POOL_LABELS, "gpu"],
            registry=self.registry,
        )
        self._samples: dict[str, ResourceSample] = {}
        self._decided: dict[str, set[tuple[str, str]]] = {}
        self._builds_seen: set[str] = set()
        self._gone: set[str] = set()
        self._archs: set[str] = set()

    def wrote(self, kind: str, verb: str) -> None:
        self.writes.labels(kind=kind, verb=verb).inc()

    def record(self, sample: ResourceSample) -> None:
        """Publish what one reconcile of a resource saw (replacing what it saw before)."""
        if sample.uid in self._gone:
            return  # a reconcile that raced the deletion
        previous = self._samples.get(sample.uid)
        self._samples[sample.uid] = sample
        self._drop_pools(previous, keep=sample)
        for p in sample.pools:
            labels = (sample.namespace, sample.name, p.pool)
            self.desired_replicas.labels(*labels).set(p.desired)
            self.ready_replicas.labels(*labels).set(p.ready)
            self.pool_gpus.labels(*labels, p.gpu).set(p.gpus)
        for pool, direction in sample.decisions:
            self.decisions.labels(sample.namespace, sample.name, pool, direction).inc()
            self._decided.setdefault(sample.uid, set()).add((pool, direction))
        for build in sample.finished_builds:
            # once per Job, and only builds that finished while this process ran (a restart
            # must not count old builds again)
            if build.uid in self._builds_seen or build.finished_at < self.started_at:
                continue
            self._builds_seen.add(build.uid)
            self.engine_build_seconds.labels(build.arch).observe(build.seconds)
        self._count_engines()

    def forget(self, uid: str) -> None:
        """The resource is gone: remove its series."""
        self._gone.add(uid)
        previous = self._samples.pop(uid, None)
        if previous is not None:
            self._drop_pools(previous, keep=None)
            self._count_engines()

    def _drop_pools(self, previous: ResourceSample | None, keep: ResourceSample | None) -> None:
        """Remove the series of ``previous`` that ``keep`` (None: nothing) no longer has."""
        if previous is None:
            return
        pools = {p.pool for p in keep.pools} if keep is not None else set()
        pool_gpus = {(p.pool, p.gpu) for p in keep.pools} if keep is not None else set()
        for p in previous.pools:
            labels = (previous.namespace, previous.name, p.pool)
            if p.pool not in pools:
                _remove(self.desired_replicas, labels)
                _remove(self.ready_replicas, labels)
            if (p.pool, p.gpu) not in pool_gpus:
                _remove(self.pool_gpus, (*labels, p.gpu))
        if keep is None:
            for pool, direction in self._decided.pop(previous.uid, set()):
                _remove(self.decisions, (previous.namespace, previous.name, pool, direction))

    def _count_engines(self) -> None:
        """Distinct engines (a Job is shared by every resource of a namespace that needs it)."""
        engines: dict[tuple[str, str], tuple[str, str]] = {}
        for s in self._samples.values():
            for e in s.engines:
                engines[(s.namespace, e.key)] = (e.arch, e.state)
        counts = Tally(engines.values())
        self._archs |= {arch for arch, _ in engines.values()}
        for arch in self._archs:
            for state in ENGINE_STATES:
                self.engine_builds.labels(arch, state).set(counts.get((arch, state), 0))

    def serve(self, port: int, address: str) -> None:
        """Expose /metrics on ``address:port`` (a daemon thread)."""
        start_http_server(port, addr=address, registry=self.registry)


def _remove(metric: Gauge | Counter, labels: tuple[str, ...]) -> None:
    with suppress(KeyError):  # never set
        metric.remove(*labels)

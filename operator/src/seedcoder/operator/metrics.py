"""The operator's own Prometheus metrics (names from ``seedcoder.metricnames``).

Why a class on its own registry: tests run several operators in one process, and
a module-level default registry would mix their counts; the instance is created
at start-up and handed to the reconcile through Kopf's memo.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from seedcoder import metricnames as mn


class OperatorMetrics:
    """Reconcile duration, reconcile errors and API writes."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
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

    def wrote(self, kind: str, verb: str) -> None:
        self.writes.labels(kind=kind, verb=verb).inc()

    def serve(self, port: int, address: str) -> None:
        """Expose /metrics on ``address:port`` (a daemon thread)."""
        start_http_server(port, addr=address, registry=self.registry)

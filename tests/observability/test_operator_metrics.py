"""The operator's metric names that dashboards and rules read are really exported.

The operator's real metrics registry (``seedcoder.operator.metrics``) is served on
a loopback port and scraped by a real Prometheus; every ``seedcoder_operator_*``
and ``seedcoder_autoscaler_*`` name used by a dashboard panel or a rule must be
among the scraped names (histograms and labelled series are observed once so
that they appear).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import start_http_server
from prometheus_client.metrics import MetricWrapperBase
from seedcoder.observability import dashboards, rules
from seedcoder.observability.promql import metric_names
from seedcoder.operator.metrics import OperatorMetrics
from seedcoder_dev.localstack.prometheus import PrometheusServer, ScrapeTarget

from tests.observability.test_dashboards import queries

pytestmark = pytest.mark.slow
CONTROL_PLANE_PREFIXES = ("seedcoder_operator_", "seedcoder_autoscaler_")


def _used_names() -> set[str]:
    names = {
        n for board in dashboards.all_dashboards().values() for q in queries(board) for n in metric_names(q)
    }
    for doc in (rules.recording_and_alert_rules("ml", "c", 300), rules.operator_rules()):
        for group in doc["groups"]:
            for rule in group["rules"]:
                names |= metric_names(rule["expr"])
    return {n for n in names if n.startswith(CONTROL_PLANE_PREFIXES)}


def _touch_every_metric(metrics: OperatorMetrics) -> None:
    """Give each metric one sample, so that labelled families show up in the exposition."""
    for value in vars(metrics).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        child: Any = value.labels(*("x" for _ in value._labelnames)) if value._labelnames else value
        if hasattr(child, "observe"):
            child.observe(1.0)
        elif hasattr(child, "inc"):
            child.inc()
        else:
            child.set(1)


@pytest.fixture
def operator_exporter() -> Iterator[int]:
    metrics = OperatorMetrics()
    _touch_every_metric(metrics)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=metrics.registry)
    try:
        yield int(server.server_port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_operator_metric_names_used_by_dashboards_and_rules_are_scraped(
    operator_exporter: int, tmp_path: Path
) -> None:
    target = ScrapeTarget("operator", f"127.0.0.1:{operator_exporter}")
    with PrometheusServer(tmp_path, [target]) as prom:
        prom.wait_scraped(timeout=30)
        scraped = prom.metric_names()
    wanted = _used_names()
    assert len(wanted) >= 8
    missing = sorted(n for n in wanted if n not in scraped)
    assert not missing, f"used by dashboards/rules but not exported by the operator: {missing}"

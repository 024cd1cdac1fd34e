"""Every dashboard query returns data from what a running stack really exports.

A real Prometheus, with the generated recording rules loaded, scrapes the real
gateway and Triton (serving the llama.cpp model, driven with real requests), and
the operator's real metrics registry fed as a reconcile feeds it (a resource with
one pool whose engine is being built and one whose engine is ready). Each panel's
query, with the dashboard variables filled in, must return at least one series:
a query that names a label value nobody exports (the old "Builds running" panel
asked for ``state="Running"``; the operator exports Pending, Building, Ready and
Failed) shows "No data" forever, and this test fails instead.

Queries that can only have data on a GPU (TensorRT-LLM's own metrics) or after an
event this stack does not produce are listed in ``NO_DATA_HERE`` with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import start_http_server
from seedcoder import metricnames as m
from seedcoder.observability import dashboards, rules
from seedcoder.observability.promql import metric_names
from seedcoder.observability.yamltext import dump
from seedcoder.operator.metrics import OperatorMetrics
from seedcoder.operator.reconcile.metrics_sample import (
    EngineSample,
    FinishedBuild,
    PoolSample,
    ResourceSample,
)
from seedcoder_dev.localstack.prometheus import PrometheusServer, ScrapeTarget

from tests.fixtures.gateway import GatewayProcess
from tests.observability.test_scrape import _drive_traffic

pytestmark = [pytest.mark.triton, pytest.mark.slow]

NAMESPACE, DEPLOYMENT, POOL = "ml", "completions", "cpu"
TRTLLM_ONLY = {m.TRTLLM_KV_CACHE_BLOCKS, m.TRTLLM_REQUEST_METRICS}
"""Exported only by the TensorRT-LLM backend, which needs an NVIDIA GPU."""
NO_DATA_HERE = {
    m.OPERATOR_RECONCILE_ERRORS_TOTAL: "no reconcile fails here",
}


def _board_queries() -> list[tuple[str, str, str]]:
    out = []
    for board in dashboards.all_dashboards().values():
        for panel in board["panels"]:
            for target in panel["targets"]:
                out.append((board["uid"], panel["title"], target["expr"]))
    return out


def _fill(query: str) -> str:
    for var, value in {"$namespace": NAMESPACE, "$deployment": DEPLOYMENT, "$pool": POOL}.items():
        query = query.replace(var, value)
    return query


@pytest.fixture
def operator_exporter() -> Iterator[int]:
    """The operator's real registry, fed what reconciling one resource publishes."""
    metrics = OperatorMetrics()
    now = datetime.now(UTC)
    metrics.record(
        ResourceSample(
            uid="u1",
            namespace=NAMESPACE,
            name=DEPLOYMENT,
            pools=(PoolSample(POOL, "CPU", desired=2, ready=1, gpus=0), PoolSample("h100", "H100", 2, 2, 2)),
            engines=(EngineSample("k-cpu", "cpu", "Ready"), EngineSample("k-h100", "sm90", "Building")),
            decisions=((POOL, "up"),),
            finished_builds=(FinishedBuild("job-1", "cpu", 420.0, now),),
        )
    )
    metrics.wrote("Deployment", "apply")
    metrics.reconcile_seconds.observe(0.05)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=metrics.registry)
    try:
        yield int(server.server_port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def prometheus(
    gateway: GatewayProcess, triton_server: Any, operator_exporter: int, tmp_path: Path
) -> Iterator[PrometheusServer]:
    labels = {"namespace": NAMESPACE, "deployment": DEPLOYMENT}
    rule_file = tmp_path / "slo.rules.yaml"
    rule_file.write_text(dump(rules.recording_and_alert_rules(NAMESPACE, DEPLOYMENT, 300)))
    targets = [
        ScrapeTarget(
            "gateway", gateway.url.removeprefix("http://"), labels={**labels, "component": "gateway"}
        ),
        ScrapeTarget(
            "triton",
            triton_server.metrics_url.removeprefix("http://").removesuffix("/metrics"),
            labels={**labels, "component": "triton", "pool": POOL},
        ),
        ScrapeTarget("operator", f"127.0.0.1:{operator_exporter}"),
    ]
    with PrometheusServer(tmp_path / "prometheus", targets, rule_files=[rule_file]) as server:
        yield server


def test_every_dashboard_query_has_data(gateway: GatewayProcess, prometheus: PrometheusServer) -> None:
    _drive_traffic(gateway)
    prometheus.wait_scraped(timeout=60, scrapes=2)
    _drive_traffic(gateway)
    prometheus.wait_scraped(timeout=60, scrapes=2)
    todo = {
        (uid, title, expr)
        for uid, title, expr in _board_queries()
        if not ({n.removesuffix("_bucket") for n in metric_names(expr)} & TRTLLM_ONLY)
        and not (metric_names(expr) & set(NO_DATA_HERE))
    }
    assert len(todo) >= 30
    deadline = time.monotonic() + 120  # recording rules evaluate every 30 s; rates need two scrapes
    empty = set(todo)
    while empty and time.monotonic() < deadline:
        empty = {q for q in empty if not prometheus.query(_fill(q[2]))}
        if empty:
            _drive_traffic(gateway)
            time.sleep(5)
    assert not empty, "panels without data from a running stack:\n" + "\n".join(
        f"  {uid} / {title}: {expr}" for uid, title, expr in sorted(empty)
    )


def test_builds_running_counts_the_state_the_operator_exports(prometheus: PrometheusServer) -> None:
    (expr,) = [e for _, title, e in _board_queries() if title == "Builds running"]
    prometheus.wait_scraped(timeout=60, scrapes=2)
    result = prometheus.query(expr)
    assert [float(s["value"][1]) for s in result] == [1.0]  # the sm90 engine being built

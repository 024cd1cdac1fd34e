"""A real Prometheus scrapes the real gateway and Triton; every metric name the
dashboards and rules read from them must be in what it scraped.

Also: the generated rules load into that Prometheus and record values from the
real traffic, and every dashboard query is accepted by its query API.
"""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from seedcoder import metricnames as m
from seedcoder.observability import dashboards, rules
from seedcoder.observability.promql import base_name, metric_names
from seedcoder.observability.yamltext import dump
from seedcoder_dev.localstack.prometheus import PrometheusServer, ScrapeTarget

from tests.fixtures.gateway import MODEL_NAME, GatewayProcess
from tests.observability.test_dashboards import queries

NAMESPACE, DEPLOYMENT, POOL = "ml", "completions", "cpu"

# Exported only by the TensorRT-LLM backend, which needs an NVIDIA GPU (not here).
TRTLLM_ONLY = {m.TRTLLM_KV_CACHE_BLOCKS, m.TRTLLM_REQUEST_METRICS}
DATA_PLANE_PREFIXES = ("seedcoder_gateway_", "nv_", "seedcoder_llamacpp_")


def _used_names() -> set[str]:
    names = {
        n for board in dashboards.all_dashboards().values() for q in queries(board) for n in metric_names(q)
    }
    doc = rules.recording_and_alert_rules(NAMESPACE, DEPLOYMENT, 300)
    for group in doc["groups"]:
        for rule in group["rules"]:
            names |= metric_names(rule["expr"])
    return names


def _drive_traffic(gateway: GatewayProcess) -> None:
    """Requests that make every labelled gateway series appear at least once."""
    client = gateway.openai(timeout=120)
    done = client.completions.create(model=MODEL_NAME, prompt="def add(a, b):", max_tokens=8, temperature=0)
    client.completions.create(model=MODEL_NAME, prompt="def add(a, b):", max_tokens=8, temperature=0)  # cache
    stream = client.completions.create(
        model=MODEL_NAME, prompt="# a long story\n", max_tokens=200, temperature=0, stream=True
    )
    next(iter(stream))
    stream.close()  # client disconnect: the gateway cancels the Triton request
    request = urllib.request.Request(
        gateway.url + "/v1/feedback",
        data=f'{{"id": "{done.id}", "outcome": "accepted"}}'.encode(),
        headers=gateway.headers(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201
    bad = urllib.request.Request(gateway.url + "/v1/completions", data=b"{", headers=gateway.headers())
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(bad, timeout=30)


@pytest.fixture
def prometheus(gateway: GatewayProcess, triton_server: Any, tmp_path: Path) -> Any:
    labels = {"namespace": NAMESPACE, "deployment": DEPLOYMENT}
    rule_file = tmp_path / "slo.rules.yaml"
    doc = rules.recording_and_alert_rules(NAMESPACE, DEPLOYMENT, 300)
    rule_file.write_text(dump(doc))
    targets = [
        ScrapeTarget(
            "gateway", gateway.url.removeprefix("http://"), labels={**labels, "component": "gateway"}
        ),
        ScrapeTarget(
            "triton",
            triton_server.metrics_url.removeprefix("http://").removesuffix("/metrics"),
            labels={**labels, "component": "triton", "pool": POOL},
        ),
    ]
    with PrometheusServer(tmp_path / "prometheus", targets, rule_files=[rule_file]) as server:
        yield server


@pytest.mark.triton
@pytest.mark.slow
def test_every_data_plane_metric_in_dashboards_and_rules_is_scraped(
    gateway: GatewayProcess, prometheus: PrometheusServer
) -> None:
    _drive_traffic(gateway)
    time.sleep(2)  # the cancellation is counted when the gateway notices the disconnect
    prometheus.wait_scraped(timeout=60, scrapes=3)
    scraped = prometheus.metric_names()
    wanted = {
        n for n in _used_names() if n.startswith(DATA_PLANE_PREFIXES) and base_name(n) not in TRTLLM_ONLY
    }
    assert wanted, "the dashboards read nothing from the data plane?"
    missing = sorted(n for n in wanted if n not in scraped)
    assert not missing, f"used by dashboards/rules but not scraped from gateway/Triton: {missing}"

    # The TTFT histogram has the bucket the SLO is measured at.
    buckets = prometheus.query(f'{m.GATEWAY_TTFT_SECONDS}_bucket{{le="0.3"}}')
    assert buckets
    assert all(s["metric"]["pool"] == POOL for s in buckets)


@pytest.mark.triton
@pytest.mark.slow
def test_generated_rules_record_from_real_traffic_and_queries_parse(
    gateway: GatewayProcess, prometheus: PrometheusServer
) -> None:
    _drive_traffic(gateway)
    prometheus.wait_scraped(timeout=60, scrapes=2)
    _drive_traffic(gateway)
    prometheus.wait_scraped(timeout=60, scrapes=2)
    recorded = f"{rules.REQUEST_RATE}{{namespace='{NAMESPACE}', deployment='{DEPLOYMENT}'}}"
    deadline = time.monotonic() + 60  # the rule group evaluates every 30 s
    result: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not result:
        result = prometheus.query(recorded)
        time.sleep(1)
    assert result, f"{recorded} was never recorded:\n{prometheus.log_tail()}"
    assert float(result[0]["value"][1]) > 0
    threshold = prometheus.query(rules.SLO_TTFT_THRESHOLD)
    assert [float(s["value"][1]) for s in threshold] == [0.3]

    substitutions = {"$namespace": NAMESPACE, "$deployment": DEPLOYMENT, "$pool": ".*"}
    for board in dashboards.all_dashboards().values():
        for query in queries(board):
            for var, value in substitutions.items():
                query = query.replace(var, value)
            prometheus.query(query)  # raises PrometheusError on a query Prometheus rejects

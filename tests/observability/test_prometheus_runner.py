"""The Prometheus runner and the generated rules in a real Prometheus.

The gateway's real metrics registry (``seedcoder.gateway.metrics``) is served on a
loopback port with known observations; a real Prometheus scrapes it, evaluates
the generated recording rules, and the recorded SLO ratios must match the
observations. (The full data plane is scraped in ``test_scrape.py``.)
"""

from __future__ import annotations

import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import start_http_server
from seedcoder.gateway.metrics import Metrics
from seedcoder.observability import monitors, rules
from seedcoder.observability.yamltext import dump
from seedcoder_dev.localstack.prometheus import PrometheusError, PrometheusServer, ScrapeTarget, scrape_config

pytestmark = pytest.mark.slow


@pytest.fixture
def exporter() -> Iterator[tuple[Metrics, int]]:
    metrics = Metrics()
    server, thread = start_http_server(0, addr="127.0.0.1", registry=metrics.registry)
    try:
        yield metrics, int(server.server_port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _wait_for(prom: PrometheusServer, expr: str, timeout: float = 90) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = prom.query(expr)
        if result:
            return result
        time.sleep(1)
    raise AssertionError(f"{expr} returned nothing within {timeout}s:\n{prom.log_tail()}")


def test_recorded_slo_ratios_match_the_observations(exporter: tuple[Metrics, int], tmp_path: Path) -> None:
    metrics, port = exporter
    rule_file = tmp_path / "rules.yaml"
    rule_file.write_text(dump(rules.recording_and_alert_rules("ml", "completions", 300)))
    target = ScrapeTarget(
        "gateway", f"127.0.0.1:{port}", labels={"namespace": "ml", "deployment": "completions"}
    )
    with PrometheusServer(tmp_path / "prom", [target], rule_files=[rule_file]) as prom:
        prom.wait_scraped(timeout=30)
        # 100 requests a scrape: 20 fast (0.1 s), 80 slow (0.9 s); 5 of them answered 503.
        for _ in range(8):
            for i in range(100):
                metrics.ttft.labels("h100", "seedcoder").observe(0.1 if i < 20 else 0.9)
                metrics.requests.labels("h100", "seedcoder", "completions", "503" if i < 5 else "200").inc()
            time.sleep(1.1)
        slow = _wait_for(
            prom, 'namespace_deployment:seedcoder_gateway_ttft_slow:ratio_rate5m{deployment="completions"}'
        )
        assert float(slow[0]["value"][1]) == pytest.approx(0.8, abs=0.02)
        errors = _wait_for(
            prom, 'namespace_deployment:seedcoder_gateway_requests_5xx:ratio_rate5m{namespace="ml"}'
        )
        assert float(errors[0]["value"][1]) == pytest.approx(0.05, abs=0.01)
        p95 = _wait_for(prom, rules.DEP_TTFT_QUANTILE.format(q="95"))
        assert 0.75 <= float(p95[0]["value"][1]) <= 1.0
        # 80% slow is 16x the 5% budget of a p95 objective: the fast-burn condition holds
        # (pending: it needs 2 minutes).
        _wait_for(prom, 'ALERTS{alertname="SeedCoderTTFTBudgetFastBurn", alertstate="pending"}')


def test_runner_reports_bad_queries_and_stops(tmp_path: Path) -> None:
    prom = PrometheusServer(tmp_path, []).start()
    try:
        with pytest.raises(PrometheusError, match="HTTP 400"):
            prom.query("sum by (")
        assert prom.query("vector(1)")[0]["value"][1] == "1"
    finally:
        prom.stop()
    with pytest.raises(urllib.error.URLError):
        prom.query("vector(1)")


def test_scrape_config_uses_static_loopback_targets() -> None:
    cfg = scrape_config([ScrapeTarget("gw", "127.0.0.1:1", labels={"pool": "cpu"})], "1s", [Path("/r.yaml")])
    assert cfg["rule_files"] == ["/r.yaml"]
    assert cfg["scrape_configs"] == [
        {
            "job_name": "gw",
            "metrics_path": "/metrics",
            "scrape_interval": "1s",
            "static_configs": [{"targets": ["127.0.0.1:1"], "labels": {"pool": "cpu"}}],
        }
    ]


def test_pod_monitor_labels_series_like_the_rules_expect() -> None:
    pm = monitors.pod_monitor("ml", "completions")
    assert pm["kind"] == "PodMonitor"
    assert pm["metadata"]["namespace"] == "ml"
    spec = pm["spec"]
    assert spec["namespaceSelector"] == {"matchNames": ["ml"]}
    assert spec["selector"]["matchLabels"]["app.kubernetes.io/instance"] == "completions"
    gateway, triton = spec["podMetricsEndpoints"]
    assert (gateway["port"], triton["port"]) == ("http", "metrics")
    for endpoint, component in ((gateway, "gateway"), (triton, "triton")):
        targets = {r.get("targetLabel") for r in endpoint["relabelings"]}
        assert {"namespace", "deployment"} <= targets
        assert endpoint["relabelings"][0] == {
            "sourceLabels": ["__meta_kubernetes_pod_label_app_kubernetes_io_component"],
            "regex": component,
            "action": "keep",
        }
    assert "pool" in {r.get("targetLabel") for r in triton["relabelings"]}
    assert "pool" not in {r.get("targetLabel") for r in gateway["relabelings"]}

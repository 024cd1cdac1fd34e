"""The autoscaler's signal readers against a real Prometheus text exposition and a fake Prometheus API."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from seedcoder import metricnames as mn
from seedcoder.operator.autoscaling.signals import (
    GatewayScrapeSignals,
    PrometheusSignals,
    Scrape,
    ScrapeTarget,
    difference,
    histogram_quantile,
    parse_exposition,
    promql,
)

BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 1.0)


class Gateway:
    """The gateway's metric families, exported by the real prometheus_client."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.ttft = Histogram(
            mn.GATEWAY_TTFT_SECONDS, "ttft", ["pool", "model"], buckets=BUCKETS, registry=self.registry
        )
        self.requests = Counter(
            mn.GATEWAY_REQUESTS_TOTAL, "req", ["pool", "model", "endpoint", "code"], registry=self.registry
        )
        self.inflight = Gauge(mn.GATEWAY_INFLIGHT, "inflight", ["pool"], registry=self.registry)

    def serve(self, pool: str, ttfts: list[float]) -> None:
        for v in ttfts:
            self.ttft.labels(pool, "seedcoder").observe(v)
            self.requests.labels(pool, "seedcoder", "completions", "200").inc()

    def text(self) -> str:
        return generate_latest(self.registry).decode()


def test_histogram_quantile_matches_prometheus_interpolation() -> None:
    # 100 observations: 50 in (0, 0.1], 40 in (0.1, 0.2], 10 in (0.2, 0.5]
    cum = {0.1: 50.0, 0.2: 90.0, 0.5: 100.0, math.inf: 100.0}
    assert histogram_quantile(0.5, cum) == pytest.approx(0.1)
    assert histogram_quantile(0.95, cum) == pytest.approx(0.2 + 0.3 * 0.5)
    assert histogram_quantile(0.95, {math.inf: 0.0}) is None


def _scrape(at: float, **pods: Gateway) -> Scrape:
    snap = Scrape(at=at)
    for key, gw in pods.items():
        snap.pods[key] = parse_exposition(gw.text())
    return snap


def test_rates_and_p95_from_two_scrapes_of_a_real_exposition() -> None:
    gw = Gateway()
    gw.serve("h100", [0.04] * 10)
    old = _scrape(100.0, a=gw)
    gw.serve("h100", [0.08] * 90 + [0.4] * 10)
    gw.inflight.labels("h100").set(7)
    new = _scrape(110.0, a=gw)
    sig = difference(old, new, ["h100", "a100"], 60.0)["h100"]
    assert sig.request_rate == pytest.approx(10.0)
    assert sig.ttft_p95_ms is not None
    assert 300.0 < sig.ttft_p95_ms <= 500.0
    assert sig.inflight == 7.0
    assert sig.observed_at == 110.0
    missing = difference(old, new, ["h100", "a100"], 60.0)["a100"]
    assert missing.request_rate is None
    assert missing.ttft_p95_ms is None


def test_a_restarted_pod_counts_from_zero_and_the_other_pods_still_count() -> None:
    steady, restarted = Gateway(), Gateway()
    steady.serve("h100", [0.05] * 100)
    restarted.serve("h100", [0.05] * 500)
    old = _scrape(0.0, a=steady, b=restarted)
    steady.serve("h100", [0.05] * 50)
    fresh = Gateway()  # b's process restarted: its counters start again from zero
    fresh.serve("h100", [0.5] * 30)
    new = _scrape(10.0, a=steady, b=fresh)
    sig = difference(old, new, ["h100"], 60.0)["h100"]
    assert sig.request_rate == pytest.approx(8.0)  # 50 + 30 over 10 s, never negative
    assert sig.ttft_p95_ms is not None
    assert sig.ttft_p95_ms > 300.0


def test_a_pod_that_replaced_another_between_scrapes_counts_from_zero() -> None:
    gone, new_pod, other = Gateway(), Gateway(), Gateway()
    gone.serve("h100", [0.05] * 400)
    other.serve("h100", [0.05] * 100)
    old = _scrape(0.0, gone=gone, other=other)
    other.serve("h100", [0.05] * 20)
    new_pod.serve("h100", [0.05] * 40)
    new = _scrape(20.0, other=other, new=new_pod)
    assert difference(old, new, ["h100"], 60.0)["h100"].request_rate == pytest.approx(3.0)


def test_the_first_scrape_counts_a_young_pod_from_its_start_but_not_an_old_one() -> None:
    gw = Gateway()
    gw.serve("h100", [0.1] * 20)  # served before anyone scraped it
    young = _scrape(100.0, a=gw)
    young.started["a"] = 90.0
    sig = difference(None, young, ["h100"], 60.0)["h100"]
    assert sig.request_rate == pytest.approx(2.0)
    assert sig.ttft_p95_ms is not None
    assert 50.0 < sig.ttft_p95_ms <= 100.0
    old = _scrape(100.0, a=gw)
    old.started["a"] = 10.0  # its counters hold traffic from before the window
    assert difference(None, old, ["h100"], 60.0)["h100"].ttft_p95_ms is None


async def test_gateway_scrape_signals_hold_on_a_failed_pod_and_see_traffic_before_the_first_scrape() -> None:
    gw = Gateway()
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if request.url.host == "10.0.0.9":
            return httpx.Response(503)
        gw.serve("h100", [0.05] * 30)
        return httpx.Response(200, text=gw.text())

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        pod = ScrapeTarget("http://10.0.0.1:8000/metrics", started_at=970.0)
        src = GatewayScrapeSignals(client, [pod], window_s=60.0)
        first = await src.read(["h100"], 1000.0)
        assert first["h100"].request_rate == pytest.approx(1.0)  # 30 requests since it started 30 s ago
        second = await src.read(["h100"], 1030.0)
        assert second["h100"].request_rate == pytest.approx(1.0)
        unknown_start = GatewayScrapeSignals(client, [ScrapeTarget(pod.url)], window_s=60.0)
        assert (await unknown_start.read(["h100"], 1000.0))["h100"].request_rate is None
        broken = GatewayScrapeSignals(
            client, [pod, ScrapeTarget("http://10.0.0.9:8000/metrics", 970.0)], window_s=60.0
        )
        assert (await broken.read(["h100"], 1060.0))["h100"].request_rate is None


def test_promql_uses_the_gateway_histogram_per_pool() -> None:
    q = promql(300.0, {"namespace": "ml", "deployment": "c"}, ["h100", "a100"])
    assert q["ttft_p95"].startswith("histogram_quantile(0.95, sum by (pool, le)")
    sel = 'deployment="c",namespace="ml",pool=~"a100|h100"'
    assert f"{mn.GATEWAY_TTFT_SECONDS}_bucket{{{sel}}}[300s]" in q["ttft_p95"]
    assert all(sel in query for query in q.values())
    assert mn.TRITON_PENDING_REQUESTS in q["queue"]


def _vector(values: dict[str, float]) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": {"pool": p}, "value": [1000.0, repr(v)]} for p, v in values.items()],
        },
    }


async def test_prometheus_signals_parse_answers_and_report_missing_as_none() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        q = request.url.params["query"]
        assert request.url.path == "/api/v1/query"
        if q.startswith("histogram_quantile"):
            return httpx.Response(200, json=_vector({"h100": 0.25, "a100": float("nan")}))
        if "timestamp(" in q:
            return httpx.Response(200, json=_vector({"h100": 995.0, "a100": 990.0}))
        if mn.GATEWAY_REQUESTS_TOTAL in q:
            return httpx.Response(200, json=_vector({"h100": 12.5}))
        if mn.GATEWAY_INFLIGHT in q:
            return httpx.Response(200, json=_vector({"h100": 4.0, "a100": 0.0}))
        return httpx.Response(500)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        src = PrometheusSignals(client, "http://prometheus:9090", window_s=300.0, labels={"namespace": "ml"})
        got = await src.read(["h100", "a100", "l40s"], 1000.0)
    assert got["h100"].ttft_p95_ms == pytest.approx(250.0)
    assert got["h100"].request_rate == 12.5
    assert got["h100"].observed_at == 995.0
    assert got["h100"].queue_depth is None  # the Triton query failed: missing, not zero
    assert got["a100"].ttft_p95_ms is None  # NaN from histogram_quantile
    assert got["a100"].request_rate == 0.0  # scraped, no requests
    assert got["l40s"].observed_at is None
    assert got["l40s"].request_rate is None


async def test_prometheus_unreachable_gives_missing_signals() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        src = PrometheusSignals(client, "http://127.0.0.1:1", window_s=60.0, labels={})
        got = await src.read(["h100"], 1000.0)
    assert got["h100"].request_rate is None
    assert got["h100"].observed_at is None

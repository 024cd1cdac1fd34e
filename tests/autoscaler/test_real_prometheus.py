"""PrometheusSignals against a real Prometheus scraping a real prometheus_client exposition on loopback.

Why: PromQL that parses is not PromQL that answers; this runs the actual
``histogram_quantile`` over the gateway's TTFT histogram and the rate query,
the way the operator reads them in a cluster. ``make test`` installs the
``prometheus`` binary; without it the test fails with a message saying so.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from seedcoder import metricnames as mn
from seedcoder.operator.autoscaling.signals import PrometheusSignals
from seedcoder_dev.localstack.prometheus import PrometheusServer, ScrapeTarget

pytestmark = [pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def gateway_metrics() -> Iterator[tuple[int, CollectorRegistry]]:
    reg = CollectorRegistry()
    port = _free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=reg)
    yield port, reg
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def prometheus(tmp_path: Path, gateway_metrics: tuple[int, CollectorRegistry]) -> Iterator[str]:
    target_port, _ = gateway_metrics
    target = ScrapeTarget(
        "gateway", f"127.0.0.1:{target_port}", labels={"namespace": "ml", "deployment": "c"}
    )
    with PrometheusServer(tmp_path, [target]) as server:
        yield server.url


async def test_real_prometheus_answers_p95_rate_and_freshness(
    prometheus: str, gateway_metrics: tuple[int, CollectorRegistry]
) -> None:
    _, reg = gateway_metrics
    ttft = Histogram(
        mn.GATEWAY_TTFT_SECONDS,
        "ttft",
        ["pool", "model"],
        buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 1.0),
        registry=reg,
    )
    reqs = Counter(mn.GATEWAY_REQUESTS_TOTAL, "req", ["pool", "model", "endpoint", "code"], registry=reg)
    inflight = Gauge(mn.GATEWAY_INFLIGHT, "inflight", ["pool"], registry=reg)
    inflight.labels("h100").set(3)
    stop = threading.Event()

    def load() -> None:  # 20 requests/s, 90 % at 80 ms, 10 % at 400 ms
        i = 0
        while not stop.is_set():
            ttft.labels("h100", "seedcoder").observe(0.4 if i % 10 == 0 else 0.08)
            reqs.labels("h100", "seedcoder", "completions", "200").inc()
            i += 1
            time.sleep(0.05)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    try:
        async with httpx.AsyncClient() as client:
            src = PrometheusSignals(
                client, prometheus, window_s=10.0, labels={"namespace": "ml", "deployment": "c"}
            )
            got = None
            for _ in range(60):
                await asyncio.sleep(0.5)
                got = await src.read(["h100", "a100"], time.time())
                rate = got["h100"].request_rate
                if got["h100"].ttft_p95_ms is not None and rate is not None and rate >= 8.0:
                    break
            assert got is not None
            h = got["h100"]
            assert h.ttft_p95_ms is not None
            assert 300.0 <= h.ttft_p95_ms <= 500.0
            assert h.request_rate is not None
            assert 8.0 <= h.request_rate <= 25.0
            assert h.inflight == 3.0
            assert h.observed_at is not None
            assert time.time() - h.observed_at < 10.0
            assert got["a100"].request_rate is None
    finally:
        stop.set()
        worker.join(timeout=5)

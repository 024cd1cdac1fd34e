"""Two resources in one namespace with the same pool names: the autoscaler reads each one's own signals.

A real Prometheus scrapes two gateways' expositions labelled as the PodMonitor
labels them (``namespace``, ``deployment``); both have a pool ``h100``. One is
fast and busy, the other slow and quiet: ``PrometheusSignals`` for each resource
must see only its own (before, the query filtered by namespace alone and summed both).
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
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from seedcoder import metricnames as mn
from seedcoder.operator.autoscaling.signals import PoolSignals, PrometheusSignals
from seedcoder_dev.localstack.prometheus import PrometheusServer, ScrapeTarget

pytestmark = [pytest.mark.slow]
# name: (requests per second, TTFT of each request in seconds)
LOAD = {"alpha": (20.0, 0.08), "beta": (4.0, 0.4)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def exporters() -> Iterator[dict[str, int]]:
    """One exposition per resource, each with a pool h100 (and a pool the resource no longer has)."""
    stop = threading.Event()
    ports, threads, servers = {}, [], []
    for name, (rps, ttft_s) in LOAD.items():
        reg = CollectorRegistry()
        ttft = Histogram(mn.GATEWAY_TTFT_SECONDS, "ttft", ["pool", "model"], registry=reg,
                         buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 1.0))  # fmt: skip
        reqs = Counter(mn.GATEWAY_REQUESTS_TOTAL, "req", ["pool", "model", "endpoint", "code"], registry=reg)
        reqs.labels("retired", "m", "completions", "200").inc(1000)

        def load(
            rps: float = rps, ttft_s: float = ttft_s, ttft: Histogram = ttft, reqs: Counter = reqs
        ) -> None:
            while not stop.is_set():
                ttft.labels("h100", "m").observe(ttft_s)
                reqs.labels("h100", "m", "completions", "200").inc()
                time.sleep(1.0 / rps)

        port = _free_port()
        server, thread = start_http_server(port, addr="127.0.0.1", registry=reg)
        servers.append((server, thread))
        worker = threading.Thread(target=load, daemon=True)
        worker.start()
        threads.append(worker)
        ports[name] = port
    yield ports
    stop.set()
    for worker in threads:
        worker.join(timeout=5)
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def prometheus(tmp_path: Path, exporters: dict[str, int]) -> Iterator[str]:
    targets = [
        ScrapeTarget(f"gateway-{name}", f"127.0.0.1:{p}", labels={"namespace": "ml", "deployment": name})
        for name, p in exporters.items()
    ]
    with PrometheusServer(tmp_path, targets) as server:
        yield server.url


async def test_each_resource_reads_only_its_own_pools(prometheus: str) -> None:
    async with httpx.AsyncClient() as client:
        sources = {
            name: PrometheusSignals(
                client, prometheus, window_s=10.0, labels={"namespace": "ml", "deployment": name}
            )
            for name in LOAD
        }
        got: dict[str, PoolSignals] = {}
        for _ in range(60):
            await asyncio.sleep(0.5)
            got = {name: (await src.read(["h100"], time.time()))["h100"] for name, src in sources.items()}
            if all(
                s.request_rate and s.request_rate > 0.6 * LOAD[n][0] and s.ttft_p95_ms for n, s in got.items()
            ):
                break
        alpha, beta = got["alpha"], got["beta"]
        assert alpha.ttft_p95_ms is not None
        assert beta.ttft_p95_ms is not None
        assert alpha.ttft_p95_ms <= 100.0  # its own 80 ms, not mixed with beta's 400 ms
        assert 300.0 <= beta.ttft_p95_ms <= 500.0
        assert alpha.request_rate is not None
        assert beta.request_rate is not None
        assert alpha.request_rate > 2 * beta.request_rate
        assert beta.request_rate < 8.0  # not the namespace's sum (about 24 requests/s)

"""One pool, two real Triton replicas: the gateway spreads requests over both, follows the resolver, drains.

Two ``tritonserver`` processes serve the llama.cpp model on two loopback
addresses with the same ports (what two pods behind a headless Service look
like); the real gateway app runs under uvicorn in this test's event loop with a
resolver that answers the pool's host name with those addresses. Who served
what is read from each Triton's own ``nv_inference_request_success``.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import httpx
import pytest
import uvicorn
from seedcoder.api.gateway_config import GatewayConfig
from seedcoder.gateway.app import create_app
from seedcoder.gateway.routing import Pool
from seedcoder.metricnames import GATEWAY_POOL_ENDPOINTS, TRITON_REQUEST_SUCCESS
from seedcoder_dev.localstack.triton import TritonServer

from tests.fixtures.gateway import MODEL_NAME, free_port

pytestmark = [pytest.mark.triton, pytest.mark.slow]

ADDRESSES = ("127.0.0.2", "127.0.0.3")
HOST = "cpu.triton.test"
BURST = 20


def _free_on_all(addresses: Sequence[str], taken: set[int]) -> int:
    """A port nobody listens on at any of ``addresses``."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((addresses[0], 0))
            port: int = probe.getsockname()[1]
        if port in taken:
            continue
        try:
            for addr in addresses:
                with socket.socket() as sock:
                    sock.bind((addr, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no port free on every test address")


@pytest.fixture
def two_tritons(triton_repository: Path, tmp_path: Path) -> Iterator[list[TritonServer]]:
    taken: set[int] = set()
    for _ in range(3):
        taken.add(_free_on_all(ADDRESSES, taken))
    http, grpc, metrics = sorted(taken)
    servers = [TritonServer(host=a, ports=(http, grpc, metrics)) for a in ADDRESSES]
    try:
        for server, addr in zip(servers, ADDRESSES, strict=True):
            server.start(triton_repository, tmp_path / addr)
        for server in servers:
            server.wait_ready(timeout=240, models=("seedcoder",))
        yield servers
    finally:
        for server in servers:
            server.stop()


def successes(server: TritonServer) -> float:
    """Requests the ``seedcoder`` model of this Triton completed."""
    with urllib.request.urlopen(server.metrics_url, timeout=5) as resp:
        text = resp.read().decode()
    pattern = rf'^{TRITON_REQUEST_SUCCESS}\{{[^}}]*model="seedcoder"[^}}]*\}} ([0-9.eE+-]+)$'
    return sum(float(m.group(1)) for m in re.finditer(pattern, text, re.MULTILINE))


async def wait_until(check: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {within} s waiting for {what}")


async def burst(client: httpx.AsyncClient, n: int) -> list[httpx.Response]:
    body = {"model": MODEL_NAME, "prompt": "def add(a, b):\n", "max_tokens": 3, "temperature": 0.7}
    return list(await asyncio.gather(*(client.post("/v1/completions", json=body) for _ in range(n))))


async def test_requests_spread_over_every_replica_and_follow_the_resolver(
    two_tritons: list[TritonServer], tmp_path: Path
) -> None:
    first, second = two_tritons
    port = int(first.grpc_url.rsplit(":", 1)[1])
    answer = list(ADDRESSES)
    asked: list[str] = []

    async def resolver(host: str, p: int) -> list[str]:
        asked.append(host)
        assert p == port
        return list(answer)

    cfg = GatewayConfig.model_validate({
        "model_name": MODEL_NAME,
        "pools": [{"name": "cpu", "grpc_url": f"{HOST}:{port}", "gpu": "CPU"}],
        "open_mode": True,
        "api_keys_dir": None,
        "feedback_dir": str(tmp_path / "feedback"),
        "max_context_tokens": 2000,
        "backend_timeout_s": 120.0,
        "health_interval_s": 0.5,
        "endpoint_refresh_s": 0.5,
        "cache_max_entries": 0,
        "rate_limit_rps": 1000.0,
        "rate_limit_burst": 2000,
    })  # fmt: skip
    app = create_app(cfg, resolver=resolver)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        await wait_until(lambda: server.started, 60, "the gateway to start")
        pool: Pool = app.state.deps.pools[0]
        await wait_until(lambda: pool.healthy_count == 2, 30, "both replicas to be healthy")
        assert asked[0] == HOST
        base = f"http://127.0.0.1:{server.config.port}"
        async with httpx.AsyncClient(base_url=base, timeout=300) as client:
            metrics = (await client.get("/metrics")).text
            assert f'{GATEWAY_POOL_ENDPOINTS}{{pool="cpu",state="healthy"}} 2.0' in metrics

            before = [successes(s) for s in two_tritons]
            responses = await burst(client, BURST)
            assert [r.status_code for r in responses] == [200] * BURST, [r.text for r in responses]
            await wait_until(
                lambda: sum(successes(s) for s in two_tritons) - sum(before) >= BURST, 10, "Triton's counters"
            )
            served = [successes(s) - b for s, b in zip(two_tritons, before, strict=True)]
            print(f"\nburst of {BURST}: {ADDRESSES[0]} {served[0]:.0f}, {ADDRESSES[1]} {served[1]:.0f}")
            assert sum(served) == BURST
            assert all(0.25 * BURST <= s <= 0.75 * BURST for s in served), served

            # The second replica leaves the DNS answer while serving: it drains (its requests finish
            # without error), then its channel closes, and traffic goes only to the first.
            body = {"model": MODEL_NAME, "prompt": "def add(a, b):\n", "max_tokens": 16, "stream": True}
            inflight = [asyncio.create_task(client.post("/v1/completions", json=body)) for _ in range(4)]
            leaving = pool.endpoints[second.grpc_url]
            await wait_until(lambda: leaving.outstanding > 0, 10, "a request on the second replica")
            answer.remove(ADDRESSES[1])
            await wait_until(lambda: list(pool.endpoints) == [first.grpc_url], 10, "the replica to leave")
            assert pool.draining == {second.grpc_url: leaving}
            assert leaving.outstanding > 0  # still streaming while it drains
            streamed = await asyncio.gather(*inflight)
            assert [r.status_code for r in streamed] == [200] * 4
            assert all(r.text.rstrip().endswith("data: [DONE]") for r in streamed), [r.text for r in streamed]
            assert all('"error"' not in r.text for r in streamed)
            await wait_until(lambda: not pool.draining, 10, "the drained replica's channel to close")
            metrics = (await client.get("/metrics")).text
            assert f'{GATEWAY_POOL_ENDPOINTS}{{pool="cpu",state="healthy"}} 1.0' in metrics
            before = [successes(s) for s in two_tritons]
            responses = await burst(client, 6)
            assert [r.status_code for r in responses] == [200] * 6, [r.text for r in responses]
            await wait_until(lambda: successes(first) - before[0] >= 6, 10, "Triton's counters")
            assert successes(first) - before[0] == 6
            assert successes(second) == before[1]
    finally:
        server.should_exit = True
        await serving

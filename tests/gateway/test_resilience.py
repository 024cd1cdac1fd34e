"""Failures: Triton dies and comes back, clients disconnect, the gateway is SIGKILLed after a 2xx."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from seedcoder.metricnames import (
    GATEWAY_CANCELLATIONS_TOTAL,
    LLAMACPP_CANCELLED_TOTAL,
    LLAMACPP_GENERATED_TOKENS_TOTAL,
)
from seedcoder_dev.localstack.triton import (
    free_port,
    prepare_backend_dir,
    pytriton_paths,
    server_command,
    server_env,
)

from tests.fixtures.gateway import MODEL_NAME, GatewayProcess

pytestmark = [pytest.mark.triton, pytest.mark.slow]

LONG = {
    "model": MODEL_NAME,
    "prompt": "Here is a very long story about a dragon:\n",
    "max_tokens": 256,
    "temperature": 0.8,
}


def metric_sum(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            match = re.match(rf"^{name}(\{{[^}}]*\}})? ([0-9.eE+-]+)$", line)
            if match:
                total += float(match.group(2))
    return total


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return str(resp.read().decode())


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class OwnTriton:
    """A tritonserver this test may kill and restart on the same ports."""

    def __init__(self, repository: Path, workdir: Path) -> None:
        self.paths = pytriton_paths()
        self.backends = prepare_backend_dir(workdir / "backends", self.paths)
        self.repository = repository
        self.workdir = workdir
        self.ports = (free_port(), free_port(), free_port())
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.ports[1]}"

    def start(self) -> None:
        cmd = server_command(self.paths, self.repository, self.backends, self.ports, 0)
        with (self.workdir / "triton.log").open("ab") as log:
            self.proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=server_env(self.paths),
                cwd=self.workdir,
                start_new_session=True,
            )

        def ready() -> bool:
            try:
                url = f"http://127.0.0.1:{self.ports[0]}/v2/models/seedcoder/ready"
                with urllib.request.urlopen(url, timeout=2) as resp:
                    return bool(resp.status == 200)
            except OSError:
                return False

        wait_for(ready, 240, "the test's own Triton")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


@pytest.fixture
def own_triton(triton_repository: Path, tmp_path: Path) -> Iterator[OwnTriton]:
    server = OwnTriton(triton_repository, tmp_path / "own-triton")
    server.workdir.mkdir(parents=True, exist_ok=True)
    server.start()
    try:
        yield server
    finally:
        server.kill()


def test_triton_dies_clients_get_503_and_the_gateway_recovers(
    own_triton: OwnTriton, gateway_factory: Callable[..., GatewayProcess]
) -> None:
    gw = gateway_factory(own_triton.grpc_url, cache_max_entries=0)
    client = gw.openai(timeout=60)
    assert client.completions.create(model=MODEL_NAME, prompt="x = ", max_tokens=2).choices

    # A stream in flight when Triton dies ends with an error event, not a silent cut.
    stream = client.completions.create(stream=True, **LONG)
    first = next(iter(stream))
    assert first.choices[0].text is not None
    own_triton.kill()
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass

    # New requests: 503 with Retry-After (not a hang, not a 500).
    resp = httpx.post(
        gw.url + "/v1/completions", json={**LONG, "stream": False, "max_tokens": 2}, headers=gw.headers()
    )
    assert resp.status_code == 503, resp.text
    assert resp.json()["error"]["type"] == "service_unavailable"
    assert "retry-after" in resp.headers
    with pytest.raises(openai.InternalServerError) as info:
        client.completions.create(model=MODEL_NAME, prompt="x = ", max_tokens=2, stream=True)
    assert info.value.status_code == 503
    wait_for(lambda: gw.status("/readyz") == 503, 10, "the gateway to report not ready")
    assert 'seedcoder_gateway_pool_healthy{pool="cpu"} 0.0' in httpx.get(gw.url + "/metrics").text

    # Triton comes back on the same address: the gateway notices by itself.
    own_triton.start()
    wait_for(lambda: gw.status("/readyz") == 200, 30, "the gateway to put the pool back")
    out = client.completions.create(model=MODEL_NAME, prompt="x = ", max_tokens=2)
    assert out.choices[0].text is not None
    assert gw.alive()


def _counters(triton_server: Any) -> tuple[float, float]:
    text = scrape(triton_server.metrics_url)
    return metric_sum(text, LLAMACPP_CANCELLED_TOTAL), metric_sum(text, LLAMACPP_GENERATED_TOKENS_TOTAL)


def _assert_generation_stopped(triton_server: Any, cancelled_before: float) -> None:
    wait_for(lambda: _counters(triton_server)[0] > cancelled_before, 20, "Triton to count a cancellation")
    _, generated = _counters(triton_server)
    time.sleep(2.5)  # two metric intervals
    assert _counters(triton_server)[1] == generated  # no more tokens for the abandoned request


def test_stream_disconnect_cancels_the_triton_request(gateway: GatewayProcess, triton_server: Any) -> None:
    cancelled_before, _ = _counters(triton_server)
    with httpx.stream("POST", gateway.url + "/v1/completions", json={**LONG, "stream": True},
                      headers=gateway.headers(), timeout=60) as resp:  # fmt: skip
        assert resp.status_code == 200
        lines = resp.iter_lines()
        got = [next(lines) for _ in range(3)]
        assert all(line.startswith("data: {") or not line for line in got)
    # Leaving the block closed the connection after a few tokens of 256.
    _assert_generation_stopped(triton_server, cancelled_before)
    gw_metrics = httpx.get(gateway.url + "/metrics").text
    assert metric_sum(gw_metrics, GATEWAY_CANCELLATIONS_TOTAL) >= 1


def test_non_streamed_disconnect_cancels_too(gateway: GatewayProcess, triton_server: Any) -> None:
    cancelled_before, _ = _counters(triton_server)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(gateway.url + "/v1/completions", json=LONG, headers=gateway.headers(), timeout=1.0)
    _assert_generation_stopped(triton_server, cancelled_before)


def test_feedback_survives_a_sigkill_right_after_the_2xx(
    triton_server: Any, gateway_factory: Callable[..., GatewayProcess]
) -> None:
    gw = gateway_factory(triton_server.grpc_url)
    out = gw.openai().completions.create(
        model=MODEL_NAME, prompt="def square(x):\n    ", suffix="\n", max_tokens=8, temperature=0
    )
    resp = httpx.post(gw.url + "/v1/feedback", headers=gw.headers(), json={
        "id": out.id, "outcome": "edited", "edited_text": "return x * x", "latency_ms": 87.5})  # fmt: skip
    assert resp.status_code == 201, resp.text
    gw.kill()  # no shutdown code runs
    events = [
        json.loads(line) for p in sorted(gw.feedback_dir.iterdir()) for line in p.read_text().splitlines()
    ]
    mine = [e for e in events if e["completion_id"] == out.id]
    assert len(mine) == 1
    event = mine[0]
    assert event["outcome"] == "edited"
    assert event["edited_text"] == "return x * x"
    assert event["context_known"]
    assert event["prompt"] == "def square(x):\n    "
    assert event["suffix"] == "\n"
    assert event["completion"] == out.choices[0].text
    assert event["client_latency_ms"] == 87.5

    gw.start()  # same directories: the data set is still there and grows
    resp = httpx.post(
        gw.url + "/v1/feedback", headers=gw.headers(), json={"id": out.id, "outcome": "accepted"}
    )
    assert resp.status_code == 201
    assert resp.json()["context_known"] is False
    lines = sum(len(p.read_text().splitlines()) for p in gw.feedback_dir.iterdir())
    assert lines == len(events) + 1


def test_feedback_write_failure_is_an_error(
    triton_server: Any, gateway_factory: Callable[..., GatewayProcess], tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    gw = gateway_factory(triton_server.grpc_url, feedback_dir=str(blocker / "feedback"))
    resp = httpx.post(
        gw.url + "/v1/feedback", headers=gw.headers(), json={"id": "cmpl-x", "outcome": "rejected"}
    )
    assert resp.status_code == 503
    assert resp.json()["error"]["code"] == "feedback_write_failed"


def test_rate_limit_is_429_with_retry_after(
    triton_server: Any, gateway_factory: Callable[..., GatewayProcess]
) -> None:
    gw = gateway_factory(triton_server.grpc_url, rate_limit_rps=0.5, rate_limit_burst=2)
    codes = [httpx.get(gw.url + "/v1/models", headers=gw.headers()).status_code for _ in range(3)]
    assert codes[:2] == [200, 200]
    assert codes[2] == 429
    resp = httpx.get(gw.url + "/v1/models", headers=gw.headers())
    assert resp.status_code == 429
    assert int(resp.headers["retry-after"]) >= 1
    assert resp.json()["error"]["type"] == "rate_limit_error"


def test_api_keys_reload_without_restart(
    triton_server: Any, gateway_factory: Callable[..., GatewayProcess]
) -> None:
    gw = gateway_factory(triton_server.grpc_url)
    new = {"Authorization": "Bearer sk-rotated", "Content-Type": "application/json"}
    assert httpx.get(gw.url + "/v1/models", headers=new).status_code == 401
    (Path(gw.config["api_keys_dir"]) / "rotated").write_text("sk-rotated")
    wait_for(lambda: httpx.get(gw.url + "/v1/models", headers=new).status_code == 200, 10, "the new key")
    (Path(gw.config["api_keys_dir"]) / "test").unlink()
    wait_for(
        lambda: httpx.get(gw.url + "/v1/models", headers=gw.headers()).status_code == 401, 10, "revocation"
    )

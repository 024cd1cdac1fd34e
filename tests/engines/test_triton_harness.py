"""The Triton harness itself: start on free loopback ports, answer health and metrics, stop."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
from seedcoder_dev.localstack.triton import TritonServer, TritonStartError, pytriton_paths, server_env


def test_server_env_puts_this_interpreters_libpython_and_venv_first() -> None:
    env = server_env(pytriton_paths(), base={"PATH": "/usr/bin", "LD_LIBRARY_PATH": "/opt/x"})
    libs = env["LD_LIBRARY_PATH"].split(":")
    assert libs[-1] == "/opt/x"
    assert any(Path(p, "libpython3.11.so.1.0").exists() for p in libs[:1])
    assert libs[1].endswith("nvidia_pytriton.libs")
    assert env["PATH"].endswith(":/usr/bin")


@pytest.mark.slow
def test_starts_serves_health_and_metrics_then_stops(tmp_path: Path) -> None:
    repo = tmp_path / "empty-repository"
    repo.mkdir()
    with TritonServer() as server:
        server.start(repo, tmp_path / "work")
        server.wait_ready(timeout=120)
        assert server.grpc_url.startswith("127.0.0.1:")
        with urllib.request.urlopen(f"{server.http_url}/v2/health/live", timeout=5) as resp:
            assert resp.status == 200
        with urllib.request.urlopen(server.metrics_url, timeout=5) as resp:
            assert b"nv_" in resp.read()
        assert server.running
    assert not server.running
    assert server.log_path is not None
    assert server.log_path.exists()


@pytest.mark.slow
def test_a_broken_repository_fails_with_the_log(tmp_path: Path) -> None:
    repo = tmp_path / "repository"
    (repo / "broken" / "1").mkdir(parents=True)
    (repo / "broken" / "config.pbtxt").write_text('backend: "python"\nthis is not protobuf\n')
    with TritonServer() as server:
        server.start(repo, tmp_path / "work")
        with pytest.raises(TritonStartError, match="broken"):
            server.wait_ready(timeout=60)

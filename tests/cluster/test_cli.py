"""``python -m seedcoder_dev.devcluster up|down``, the path behind ``make cluster-up`` / ``cluster-down``.

Why: developers start the control plane from make and keep using it after
make exits; ``down`` must then find and stop every process ``up`` started.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from seedcoder_dev.devcluster import Cluster
from seedcoder_dev.devcluster.procs import is_alive
from seedcoder_dev.devcluster.tools import kubectl_path

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def _devcluster(*args: str) -> subprocess.CompletedProcess[str]:
    # A machine runs one real node at a time and the session's cluster may hold it, so this
    # second cluster simulates cpu-0 (tests/realnode covers the real node, start to stop).
    argv = [sys.executable, "-m", "seedcoder_dev.devcluster", *args]
    env = {**os.environ, "SEEDCODER_REAL_NODE": "0"}
    return subprocess.run(argv, capture_output=True, text=True, timeout=240, check=False, env=env)


@pytest.fixture
def dev() -> Iterator[Path]:
    """A private state folder (not under pytest's base temp, which concurrent sessions prune)."""
    path = Path(tempfile.mkdtemp(prefix="seedcoder-dev-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_up_leaves_a_ready_cluster_and_down_stops_every_process(dev: Path) -> None:
    up = _devcluster("up", "--dev-dir", str(dev))
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        kubeconfig = dev / "kubeconfig"
        nodes = subprocess.run(
            [str(kubectl_path()), f"--kubeconfig={kubeconfig}", "get", "nodes", "-o", "json"],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        items = json.loads(nodes.stdout)["items"]
        summary = {
            n["metadata"]["name"]: (
                {c["type"]: c["status"] for c in n["status"]["conditions"]}["Ready"],
                n["status"]["capacity"].get("nvidia.com/gpu"),
                n["metadata"]["labels"].get("nvidia.com/gpu.product"),
                n["metadata"]["labels"]["node-pool"],
            )
            for n in items
        }
        assert summary == {
            "h100-0": ("True", "8", "NVIDIA-H100-80GB-HBM3", "h100"),
            "h100-1": ("True", "8", "NVIDIA-H100-80GB-HBM3", "h100"),
            "a100-0": ("True", "8", "NVIDIA-A100-SXM4-80GB", "a100"),
            "a100-1": ("True", "8", "NVIDIA-A100-SXM4-80GB", "a100"),
            "cpu-0": ("True", None, None, "cpu"),
            "cpusim-0": ("True", None, None, "cpusim"),
            "rtx4090-0": ("True", "1", "NVIDIA-GeForce-RTX-4090", "rtx4090"),
            "rtx4090-1": ("True", "1", "NVIDIA-GeForce-RTX-4090", "rtx4090"),
            "l4-0": ("True", "1", "NVIDIA-L4", "l4"),
        }
        again = _devcluster("up", "--dev-dir", str(dev))
        assert again.returncode == 0
        assert "already running" in again.stderr
    finally:
        started = Cluster.attach(dev / "cluster")
        records = started.processes() if started else []
        down = _devcluster("down", "--dev-dir", str(dev))
    assert down.returncode == 0, down.stdout + down.stderr
    assert sorted(r.name for r in records) == [
        "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok",
    ]  # fmt: skip
    assert [r.name for r in records if is_alive(r)] == []
    assert not (dev / "kubeconfig").exists()
    assert _devcluster("status", "--dev-dir", str(dev)).returncode == 1

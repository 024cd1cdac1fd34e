"""``make demo`` end to end: every step runs for real and reports what it found.

The test runs the same entry point as ``make demo`` (``python -m seedcoder_dev.demo run``)
in a subprocess, then asserts on the JSON record the demo writes of each step:
the control plane came up with its real CPU node and simulated GPU pools, the
operator (the chart's pod, with its ServiceAccount) brought the mixed H100 + A100
example to Ready with one engine per architecture and a CPU resource to Ready
through a real build Job, Triton and gateway pods on the real node; the real model
answered through the gateway's Service (from a pod, and from here through
``kubectl port-forward``), a streamed completion arrived in several chunks, and the
autoscaler recorded a scale-up decision of the real CPU pool in the status. It also
checks that teardown left no process behind.
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

from tests.fixtures.cluster import CLUSTER_KEY

pytestmark = [pytest.mark.slow]


def _processes_under(path: Path) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if str(path) in line and "pytest" not in line]


@pytest.fixture
def free_real_node(request: pytest.FixtureRequest) -> Iterator[None]:
    """One real node runs per machine: the session's cluster lends its node to the demo."""
    cluster: Cluster | None = request.config.stash.get(CLUSTER_KEY, None)
    if cluster is None or cluster.real_node() is None:
        yield
        return
    cluster.stop_real_node()
    try:
        yield
    finally:
        cluster.start_real_node()


@pytest.mark.usefixtures("free_real_node")
def test_demo_runs_every_step_for_real(tmp_path: Path) -> None:
    # A short folder: the kubelet's unix sockets live under it (at most 108 bytes a path).
    workdir = Path(tempfile.mkdtemp(prefix="scd-demo-"))
    summary_path = tmp_path / "summary.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "seedcoder_dev.demo",
            "run",
            "--workdir",
            str(workdir),
            "--summary",
            str(summary_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, f"the demo failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    summary = json.loads(summary_path.read_text())
    assert summary["ok"] is True
    steps = {s["number"]: s for s in summary["steps"]}
    assert [s["ok"] for s in summary["steps"]] == [True] * len(summary["steps"])
    assert len(steps) == 8

    assert steps[1]["facts"]["server"].startswith("https://127.0.0.1:")
    assert steps[2]["facts"]["operator_pod"], "the operator runs as the chart's pod"
    gpu = steps[3]["facts"]["resources"]["completions-mixed"]
    assert gpu["phase"] == "Ready"
    assert gpu["engines"] == {"sm90": "Ready", "sm80": "Ready"}
    assert len(set(gpu["build_jobs"].values())) == 2, "one build Job per GPU architecture"
    assert gpu["pools"]["h100"] >= 1
    assert gpu["endpoint"].startswith("http://")
    cpu = steps[3]["facts"]["resources"]["completions-cpu"]
    assert cpu["engines"] == {"cpu": "Ready"}, "the CPU engine was built by a real Job"
    assert cpu["pools"]["cpu"] >= 1

    assert steps[4]["facts"]["service_status"] == 200, "a completion through the gateway's Service"
    assert steps[4]["facts"]["gateway"].startswith("http://127.0.0.1:")
    fim = steps[5]["facts"]
    assert fim["completion"].strip(), "the model returned an empty completion"
    assert fim["ttft_ms"] > 0
    assert steps[6]["facts"]["chunks"] >= 2

    scaling = steps[7]["facts"]
    ups = [d for d in scaling["decisions"] if d["to"] > d["from"]]
    assert ups, f"no scale-up decision recorded in status: {scaling['decisions']}"
    assert all(d["reason"] for d in ups)
    assert scaling["after"] != scaling["before"]

    assert "Demo finished" in proc.stdout
    assert _processes_under(workdir) == [], "the demo left processes running"
    shutil.rmtree(workdir, ignore_errors=True)


def test_demo_without_the_control_plane_binaries_says_what_to_do(tmp_path: Path) -> None:
    """A newcomer who skipped the set-up gets a message naming the fix, a non-zero exit, no traceback."""
    empty = tmp_path / "no-binaries"
    empty.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "seedcoder_dev.demo", "run", "--workdir", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "TESTBINS_DIR": str(empty)},
    )
    assert proc.returncode == 1
    assert "make testbins" in proc.stdout, proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "Demo FAILED" in proc.stdout

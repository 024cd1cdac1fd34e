"""Clear errors before anything starts: missing binaries, a taken port, low disk.

Why: a developer's first ``make cluster-up`` on a fresh machine should say
what to do (``make testbins``), not fail somewhere inside etcd's log.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from seedcoder_dev.devcluster import LowDiskError, MissingToolError, PortInUseError, start_cluster
from seedcoder_dev.devcluster import start as start_module
from seedcoder_dev.devcluster.procs import read_records


def test_missing_binaries_name_the_make_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTBINS_DIR", str(tmp_path / "empty"))
    with pytest.raises(MissingToolError, match=r"make testbins"):
        start_cluster(tmp_path / "work")
    assert read_records(tmp_path / "work" / "pids") == []


def test_cli_up_reports_missing_binaries_and_fails(tmp_path: Path) -> None:
    env = {**os.environ, "TESTBINS_DIR": str(tmp_path / "empty")}
    argv = [sys.executable, "-m", "seedcoder_dev.devcluster", "up", "--dev-dir", str(tmp_path / "dev")]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert result.returncode == 1
    assert "run `make testbins`" in result.stderr


@pytest.mark.cluster
def test_a_taken_apiserver_port_is_reported(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(
            PortInUseError, match=rf"127\.0\.0\.1:{port} for kube-apiserver is already in use"
        ):
            start_cluster(tmp_path, apiserver_port=port)
    assert read_records(tmp_path / "pids") == []


@pytest.mark.cluster
def test_low_disk_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(start_module, "MIN_FREE_DISK", 1 << 62)  # more than any disk has
    with pytest.raises(LowDiskError, match=r"MiB free under"):
        start_cluster(tmp_path)

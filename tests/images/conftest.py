"""Fixtures: the product's images, built by ``tools/build_images.py`` (``make images``), run with podman.

The build is cached by a hash of its inputs, so when ``make images`` already ran
the ``images`` fixture only checks the hashes (seconds). Containers run as root
podman with ``runc`` (this machine's cgroup layout refuses crun) and ulimits below
the defaults (a container here may not raise them).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PODMAN = ["podman", "--runtime", "/usr/sbin/runc"]
ULIMITS = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]


@pytest.fixture(scope="session")
def images() -> dict[str, dict[str, Any]]:
    """name -> what the build reported (reference, size, archive); builds what is missing."""
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "build_images.py"), "--json"],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"building the images failed:\n{result.stderr[-4000:]}")
    report = json.loads(result.stdout)
    return {img["name"]: img for img in report["images"]}


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*PODMAN, *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


def inspect(ref: str) -> dict[str, Any]:
    out: list[dict[str, Any]] = json.loads(podman("image", "inspect", ref).stdout)
    return out[0]


class Container:
    """One detached container (``podman run -d``), removed on ``stop()``; its log via ``logs()``."""

    def __init__(self, name: str, image: str, *args: str, run_opts: tuple[str, ...] = ()) -> None:
        self.name = name
        podman("rm", "--force", "--ignore", name)
        self.started = time.monotonic()
        podman("run", "--detach", "--name", name, *ULIMITS, *run_opts, image, *args)

    def logs(self) -> str:
        result = podman("logs", self.name, check=False)
        return result.stdout + result.stderr

    def running(self) -> bool:
        out = podman("inspect", "--format", "{{.State.Running}}", self.name, check=False).stdout.strip()
        return out == "true"

    def exec(self, *cmd: str) -> subprocess.CompletedProcess[str]:
        return podman("exec", self.name, *cmd, check=False)

    def stop(self) -> None:
        podman("stop", "--time", "10", self.name, check=False)
        podman("rm", "--force", "--ignore", self.name, check=False)


@pytest.fixture
def containers() -> Iterator[list[Container]]:
    """A list tests append their containers to; every one is stopped (logs printed) afterwards."""
    started: list[Container] = []
    yield started
    for c in started:
        print(f"--- container {c.name} ---\n{c.logs()[-3000:]}")  # shown when the test fails
        c.stop()

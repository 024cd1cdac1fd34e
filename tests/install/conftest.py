"""Helpers for the chart and manifest tests: the real Helm binary and chart rendering."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from seedcoder_dev.devcluster.tools import MissingToolError, helm_path

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "seedcoder-operator"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))


@pytest.fixture(scope="session")
def helm() -> Path:
    try:
        return helm_path()
    except MissingToolError as exc:
        pytest.fail(str(exc), pytrace=False)


def run_helm(
    helm: Path, *args: str, check: bool = True, kubeconfig: Path | None = None
) -> subprocess.CompletedProcess[str]:
    argv = [str(helm), *args]
    if kubeconfig is not None:
        argv.append(f"--kubeconfig={kubeconfig}")
    result = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


Render = Callable[..., list[dict[str, Any]]]


@pytest.fixture(scope="session")
def render(helm: Path) -> Render:
    """``render("--set", "a=b", namespace="ns")``: the chart's objects, parsed."""

    def _render(
        *args: str, namespace: str = "seedcoder-system", release: str = "seedcoder-operator"
    ) -> list[dict[str, Any]]:
        out = run_helm(helm, "template", release, str(CHART), "--namespace", namespace, *args).stdout
        return [doc for doc in yaml.safe_load_all(out) if doc]

    return _render


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]

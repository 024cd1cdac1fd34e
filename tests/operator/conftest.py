"""Fixtures for operator tests against the local control plane."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from seedcoder_dev.devcluster import Cluster

from tests.operator.harness import OperatorProcess, install_rbac, install_volumes


@pytest.fixture
def start_operator(
    cluster: Cluster, namespace: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., OperatorProcess]]:
    """Start ``seedcoder operator`` for the test namespace as its own ServiceAccount (RBAC from the chart)."""
    install_rbac(cluster, namespace)
    install_volumes(cluster, namespace)
    started: list[OperatorProcess] = []

    def start(**settings: str) -> OperatorProcess:
        op = OperatorProcess(cluster, namespace, tmp_path, **settings).start()
        started.append(op)
        return op

    yield start
    for op in started:
        op.stop()
    rep = getattr(request.node, "rep_call", None)
    if started and (rep is None or rep.failed):
        print(f"--- operator log ({started[-1].log}) ---\n{started[-1].log_tail(150)}")

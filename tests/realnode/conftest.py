"""The real-node tests' namespaces are plain: their pods may (and should) land on ``cpu-0``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from seedcoder_dev.devcluster import Cluster

from tests.fixtures.cluster import make_namespace


@pytest.fixture
def namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace without the simulated-nodes selector."""
    yield from make_namespace(cluster, request, simulated=False)

"""Registers the shared fixture modules; each lives in ``tests/fixtures/``."""

import pytest
from seedcoder.engines import repo_source

pytest_plugins = [
    "tests.fixtures.cluster",
    "tests.fixtures.triton",
    "tests.fixtures.gateway",
]

PINNED_REPOSITORY_SOURCE = "0123456789abcdef"


@pytest.fixture
def pinned_repository_source(monkeypatch: pytest.MonkeyPatch) -> str:
    """Golden files name engine keys; pin the repository-source digest that is part of them.

    Without this, every edit of a Triton model or repository writer would rewrite
    every golden file; the digest itself is tested in tests/engines/test_repo_source.py.
    """
    monkeypatch.setattr(repo_source, "repository_source_digest", lambda: PINNED_REPOSITORY_SOURCE)
    return PINNED_REPOSITORY_SOURCE

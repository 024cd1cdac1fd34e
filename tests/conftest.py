"""Registers the shared fixture modules; each lives in ``tests/fixtures/``."""

pytest_plugins = [
    "tests.fixtures.cluster",
    "tests.fixtures.triton",
    "tests.fixtures.gateway",
]

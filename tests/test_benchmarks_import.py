"""Every benchmark module imports: a moved or renamed module breaks a benchmark at once, not weeks later.

Benchmarks run by hand (``make bench-*``), never in the suite; importing them is
the cheap check that their imports still resolve.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SKIP = {"__init__.py", "model.py"}
"""``model.py``: a Triton Python backend model, imported only inside ``tritonserver``."""
MODULES = sorted(
    ".".join(p.relative_to(BENCHMARKS.parent).with_suffix("").parts)
    for p in BENCHMARKS.rglob("*.py")
    if p.name not in SKIP and "results" not in p.parts
)


def test_there_are_benchmarks() -> None:
    assert "benchmarks.finetune_bench" in MODULES


@pytest.mark.parametrize("module", MODULES)
def test_benchmark_module_imports(module: str) -> None:
    importlib.import_module(module)

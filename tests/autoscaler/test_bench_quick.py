"""The benchmark's ``--quick`` form runs end to end (what CI runs; the full run is committed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.autoscaling.__main__ import main

REPO = Path(__file__).resolve().parents[2]
TRACE = REPO.parent / "shared" / "data" / "traces" / "AzureLLMInferenceTrace_code_2023.csv"


@pytest.mark.skipif(not TRACE.is_file(), reason="the shared Azure code trace is not beside the repository")
def test_quick_run_writes_json_table_and_plots(tmp_path: Path) -> None:
    assert main(["--quick", "--jobs", "1", "--trace", str(TRACE), "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "autoscaling.json").read_text(encoding="utf-8"))
    assert "not measured on a GPU" in doc["disclaimer"]
    by_key = {s["key"]: s for s in doc["scenarios"]}
    assert set(by_key) == {"x10", "mixed-x10"}
    for s in by_key.values():
        assert s["method"] == "superposition"
        assert all(t > 0 for t in s["simulated_s_per_seed"])
        assert {"seedcoder", "oracle", "static-peak", "hpa-gpu-util", "dynamo-60s"} <= set(s["policies"])
    mixed = by_key["mixed-x10"]
    assert [p["name"] for p in mixed["pools"]] == ["h100", "a100"]
    assert {"seedcoder-h100-only", "seedcoder-a100-only"} <= set(mixed["policies"])
    # The two-pool oracle pays for both pools and is the cheapest way to hold the SLO.
    oracle = mixed["policies"]["oracle"]
    assert oracle["windows_violated_pct"] <= mixed["policies"]["seedcoder-a100-only"]["windows_violated_pct"]
    table = (tmp_path / "autoscaling.md").read_text(encoding="utf-8")
    assert "Against the goals" in table
    assert "superposition" in table
    for plot in ("timeline", "pareto"):
        assert (tmp_path / f"autoscaling_{plot}.png").stat().st_size > 10_000

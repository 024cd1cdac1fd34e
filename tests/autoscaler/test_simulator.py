"""Fast checks of the benchmark simulator: physics, invariants, and one short run of every policy."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from benchmarks.autoscaling.fleet import Fleet, PoolConfig, gateway_pools
from benchmarks.autoscaling.latency import PROFILES
from benchmarks.autoscaling.scenarios import Scenario, run_scenario
from benchmarks.autoscaling.workload import (
    Trace,
    Workload,
    diurnal_day,
    diurnal_week,
    rate_scaled,
    read_trace,
    superposed,
)

REPO = Path(__file__).resolve().parents[2]
TRACE = REPO.parent / "shared" / "data" / "traces" / "AzureLLMInferenceTrace_code_2023.csv"


def poisson(rate: float, seconds: float, seed: int = 0) -> Workload:
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.exponential(1.0 / rate, int(rate * seconds)))
    n = len(t)
    return Workload(
        "poisson",
        t.tolist(),
        rng.integers(100, 4000, n).tolist(),
        rng.integers(1, 60, n).tolist(),
        float(t[-1]),
    )


def test_calibration_matches_the_design_notes() -> None:
    got = {name: (p.unloaded_ttft(2048) * 1000, p.unloaded_ttft(7437) * 1000) for name, p in PROFILES.items()}
    assert got["h100-fp8"] == pytest.approx((39, 152), rel=0.03)
    assert got["h100-bf16"] == pytest.approx((58, 227), rel=0.03)
    assert got["a100-bf16"] == pytest.approx((155, 607), rel=0.03)


def test_every_request_gets_a_first_token_no_faster_than_unloaded() -> None:
    w = poisson(8.0, 60.0)
    pool = PoolConfig("h100", PROFILES["h100-fp8"], 1, 4, 6.88)
    fleet = Fleet(w, [pool], 30.0, seed=1, initial={"h100": 1}, noise_sigma=0.0)
    fleet.run(None, 0.0)
    ttft = np.asarray(fleet.ttft)
    assert np.isfinite(ttft).all()
    floor = np.asarray([PROFILES["h100-fp8"].unloaded_ttft(p) for p in w.prompt])
    assert (ttft >= floor * 0.999).all()


def test_more_replicas_lower_latency_and_cost_more() -> None:
    w = poisson(30.0, 60.0)
    results = []
    for n in (2, 6):
        pool = PoolConfig("h100", PROFILES["h100-fp8"], 1, 8, 6.88)
        fleet = Fleet(w, [pool], 30.0, seed=1, initial={"h100": n})
        fleet.run(None, 0.0)
        results.append((float(np.quantile(fleet.ttft, 0.95)), len(fleet.replicas["h100"])))
    assert results[1][0] < results[0][0]


def test_short_run_of_every_policy_keeps_the_invariants() -> None:
    t = np.sort(np.random.default_rng(3).uniform(0, 600, 3000))
    trace = Trace(t=t, prompt=np.full(len(t), 1500), gen=np.full(len(t), 20))
    w = rate_scaled(trace, 4.0, 3, 1, "synthetic x4")
    pool = PoolConfig("h100", PROFILES["h100-fp8"], 1, 12, 6.88)
    out = run_scenario(Scenario(w, (pool,), 60.0, 300.0, seed=0))
    assert {
        "seedcoder",
        "oracle",
        "static-peak",
        "static-mean-x1.5",
        "hpa-gpu-util",
        "keda-queue",
        "hpa-inflight",
        "knative-kpa",
        "dynamo-180s",
        "dynamo-60s",
    } <= set(out["policies"])
    for name, m in out["policies"].items():
        assert 0 <= m["attainment_pct"] <= 100, name
        assert m["gpu_hours"] > 0, name
        assert m["ttft_p50_ms"] <= m["ttft_p95_ms"] <= m["ttft_p99_ms"], name
    for name, tl in out["timelines"].items():
        assert all(1 <= active <= 12 and 0 <= ready <= active for _, active, ready, _ in tl), name
    oracle = out["policies"]["oracle"]
    assert (
        oracle["windows_violated_pct"] <= out["policies"]["static-mean-x1.5"]["windows_violated_pct"] + 1e-9
    )
    assert oracle["gpu_hours"] <= out["policies"]["static-peak"]["gpu_hours"] * 1.05


def test_diurnal_week_peaks_near_the_target() -> None:
    trace = Trace(t=np.arange(100.0), prompt=np.full(100, 1000), gen=np.full(100, 10))
    w = diurnal_week(trace, seed=0, compress=336.0)
    per_s = np.bincount(np.asarray(w.t, dtype=int))
    smooth = np.convolve(per_s, np.ones(10) / 10, mode="valid")
    assert 80 <= smooth.max() <= 140
    assert math.isclose(w.duration - w.score_from, 7 * 86400 / 336.0)


@pytest.mark.skipif(not TRACE.is_file(), reason="the shared Azure code trace is not beside the repository")
def test_reads_the_azure_code_trace() -> None:
    tr = read_trace(TRACE)
    assert len(tr.t) == 8819
    assert 3400 < tr.t[-1] < 3500
    assert tr.prompt.max() == 7437


def bursty_trace(seed: int = 0) -> Trace:
    rng = np.random.default_rng(seed)
    t = np.sort(np.concatenate([rng.uniform(0, 3000, 2000), rng.uniform(100, 110, 400)]))
    return Trace(t=t, prompt=rng.integers(100, 7000, len(t)), gen=rng.integers(1, 40, len(t)))


def test_superposition_keeps_the_time_scale_and_multiplies_the_rate() -> None:
    tr = bursty_trace()
    w = superposed(tr, 10, seed=1, name="x10", warmup_s=300.0)
    period = tr.t[-1] + float(np.median(np.diff(tr.t)))
    assert w.duration == pytest.approx(period + 300.0)
    scored = np.asarray(w.t) >= w.score_from
    assert scored.sum() == 10 * len(tr.t)  # every copy exactly once over the scored hour
    assert w.mean_rate == pytest.approx(10 * len(tr.t) / period, rel=0.15)
    assert np.all(np.diff(w.t) >= 0)
    # Seeds move the copies' offsets: the burst lands elsewhere.
    other = superposed(tr, 10, seed=2, name="x10", warmup_s=300.0)
    assert w.t != other.t
    o_scored = np.asarray(other.t) >= other.score_from
    assert sorted(np.asarray(w.prompt)[scored]) == sorted(np.asarray(other.prompt)[o_scored])


def test_the_day_is_compressed_at_most_4x_and_peaks_by_day() -> None:
    tr = bursty_trace()
    with pytest.raises(ValueError, match="compress"):
        diurnal_day(tr, seed=0, compress=48.0)
    w = diurnal_day(tr, seed=0, compress=4.0, peak=20.0)
    assert w.duration == 86400.0 / 4
    per_min = np.bincount((np.asarray(w.t) // 60).astype(int)) / 60.0
    hours = 4.0 + np.arange(len(per_min)) * 4 / 60.0
    day, night = per_min[(hours % 24 > 12) & (hours % 24 < 16)], per_min[(hours % 24 > 1) & (hours % 24 < 5)]
    assert day.mean() > 5 * night.mean()
    assert 10 < day.mean() < 30


def test_router_is_the_gateways_weighted_by_capacity_and_keeps_long_prompts_off_the_a100() -> None:
    h100 = PoolConfig("h100", PROFILES["h100-fp8"], 1, 4, 6.88)
    a100 = PoolConfig("a100", PROFILES["a100-bf16"], 1, 4, 4.10)
    eps = gateway_pools([h100, a100])
    assert eps[0].capacity_weight > 2 * eps[1].capacity_weight
    assert eps[1].max_prompt_tokens is not None
    assert eps[1].max_prompt_tokens < 8192
    w = poisson(12.0, 120.0)
    fleet = Fleet(w, [h100, a100], 30.0, seed=1, initial={"h100": 1, "a100": 1})
    fleet.run(None, 0.0)
    by = np.asarray(fleet.served_by)
    prompts = np.asarray(w.prompt)
    assert (prompts[by == "a100"] <= eps[1].max_prompt_tokens).all()
    # Least outstanding weighted by capacity: the H100 replica takes most of the load.
    assert (by == "h100").sum() > 1.5 * (by == "a100").sum()
    assert all(ep.served > 0 for rp in fleet.router for ep in rp.all_endpoints())

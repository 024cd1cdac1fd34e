"""The autoscaling benchmark: every scenario, three seeds, aggregated into one report.

Why: ``make bench-autoscaling`` must reproduce ``benchmarks/results/autoscaling.json``
from the trace alone. Scenarios: the Azure code trace rate-scaled ×10 and ×40
(H100 FP8, 120 s cold start), a synthetic diurnal week, and a cold-start sweep.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Any

from seedcoder.engines.profiles import get_profile

from benchmarks.autoscaling.fleet import PoolConfig
from benchmarks.autoscaling.latency import PROFILES
from benchmarks.autoscaling.scenarios import Scenario, run_scenario
from benchmarks.autoscaling.workload import Trace, Workload, diurnal_week, rate_scaled

MAX_REPLICAS = 64
METRICS = (
    "attainment_pct",
    "windows_violated_pct",
    "ttft_p50_ms",
    "ttft_p95_ms",
    "ttft_p99_ms",
    "gpu_hours",
    "gpu_hours_vs_oracle",
    "cost_usd",
    "cost_per_million_prompt_tokens_usd",
    "scale_events",
)


@dataclass(frozen=True)
class Plan:
    """What to run: seeds, cold starts of the sweep, and the size of each workload."""

    seeds: tuple[int, ...] = (0, 1, 2)
    sweep: tuple[float, ...] = (30.0, 60.0, 120.0, 180.0, 300.0)
    x10_loops: tuple[int, int] = (2, 6)
    x40_loops: tuple[int, int] = (8, 24)
    week_compress: float = 48.0
    profile: str = "h100-fp8"
    slo_ms: float = 300.0


QUICK = Plan(seeds=(0,), sweep=(60.0, 120.0), x10_loops=(1, 3), x40_loops=(4, 8), week_compress=336.0)


def pool_for(profile: str) -> PoolConfig:
    prof = PROFILES[profile]
    return PoolConfig(
        name=prof.gpu.lower(),
        profile=prof,
        min_replicas=1,
        max_replicas=MAX_REPLICAS,
        cost_per_hour_usd=get_profile(prof.gpu).cost_per_hour_usd,
    )


def _aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    names = list(runs[0]["policies"])
    out: dict[str, Any] = {}
    for name in names:
        per_seed = []
        for r in runs:
            m = dict(r["policies"][name])
            oracle = r["policies"].get("oracle", {}).get("gpu_hours")
            m["gpu_hours_vs_oracle"] = m["gpu_hours"] / oracle if oracle else math.nan
            per_seed.append(m)
        agg: dict[str, Any] = {}
        for key in METRICS:
            vals = [float(m[key]) for m in per_seed]
            agg[key] = round(statistics.fmean(vals), 4)
            agg[f"{key}_std"] = round(statistics.pstdev(vals), 4) if len(vals) > 1 else 0.0
        agg["attainment_by_prompt_tokens"] = per_seed[0]["attainment_by_prompt_tokens"]
        agg["unserved"] = sum(int(m["unserved"]) for m in per_seed)
        out[name] = agg
    return out


def _scenario(
    label: str,
    workloads: list[Workload],
    plan: Plan,
    cold_start: float,
    log: Any,
    policies: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    pool = pool_for(plan.profile)
    runs = []
    for seed, w in zip(plan.seeds, workloads, strict=True):
        t0 = time.monotonic()
        runs.append(run_scenario(Scenario(w, pool, cold_start, plan.slo_ms, seed, policies)))
        log(f"{label} seed {seed} cold start {cold_start:g}s: {time.monotonic() - t0:.1f}s")
    w0 = workloads[0]
    return {
        "trace": w0.name,
        "rate_scale": w0.rate_scale,
        "profile": plan.profile,
        "gpu": pool.profile.gpu,
        "price_per_gpu_hour_usd": pool.cost_per_hour_usd,
        "cold_start_s": cold_start,
        "slo_ttft_p95_ms": plan.slo_ms,
        "min_replicas": pool.min_replicas,
        "max_replicas": pool.max_replicas,
        "seeds": list(plan.seeds),
        "requests_scored": runs[0]["policies"][next(iter(runs[0]["policies"]))]["requests"],
        "scored_minutes": round((w0.duration - w0.score_from) / 60.0, 1),
        "notes": w0.notes,
        "policies": _aggregate(runs),
        "oracle_windows": runs[0]["oracle_windows"],
        "_timelines": runs[0]["timelines"],
        "_score_from": w0.score_from,
        "_arrivals": w0.t,
    }


def run_all(trace: Trace, trace_name: str, plan: Plan, log: Any) -> list[dict[str, Any]]:
    """Every scenario of the report, in order."""
    out = []
    for scale, (warm, loops) in ((10.0, plan.x10_loops), (40.0, plan.x40_loops)):
        w = rate_scaled(trace, scale, warm + loops, warm, f"{trace_name} x{scale:g}")
        out.append(_scenario(f"x{scale:g}", [w] * len(plan.seeds), plan, 120.0, log))
    weeks = [diurnal_week(trace, seed, plan.week_compress) for seed in plan.seeds]
    out.append(_scenario("week", weeks, plan, 120.0, log))
    warm, loops = plan.x10_loops
    w = rate_scaled(trace, 10.0, warm + loops, warm, f"{trace_name} x10")
    sweep_plan = Plan(seeds=plan.seeds[:1], profile=plan.profile, slo_ms=plan.slo_ms)
    for cs in plan.sweep:
        if cs == 120.0:
            continue
        sc = _scenario(f"sweep x10 cold start {cs:g}", [w], sweep_plan, cs, log)
        sc["sweep"] = True
        out.append(sc)
    return out

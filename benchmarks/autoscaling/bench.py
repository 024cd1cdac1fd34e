"""The autoscaling benchmark: every scenario, three seeds, aggregated into one report.

Why: ``make bench-autoscaling`` must reproduce ``benchmarks/results/autoscaling.json``
from the trace alone. Scenarios (H100 FP8 unless said, 120 s cold start, p95
TTFT ≤ 300 ms): the Azure code trace rate-scaled ×10 and ×40 by superposition,
a day-long diurnal cycle (4× time compression), a mixed H100 FP8 + A100 BF16
fleet (×20), the time-compressed stress test (timestamps divided by 10 and 40;
labelled as such), and a cold-start sweep on ×10. Seeds vary the copies'
offsets (and the diurnal thinning) and the iteration-time noise. Units
(scenario, seed) run in parallel processes (``jobs``); each unit's simulation
time is recorded.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from seedcoder.engines.profiles import get_profile

from benchmarks.autoscaling.fleet import PoolConfig
from benchmarks.autoscaling.latency import PROFILES
from benchmarks.autoscaling.scenarios import Scenario, run_scenario
from benchmarks.autoscaling.workload import Workload, diurnal_day, rate_scaled, read_trace, superposed

METRICS = (
    "attainment_pct",
    "windows_violated_pct",
    "ttft_p50_ms",
    "ttft_p95_ms",
    "ttft_p99_ms",
    "gpu_hours",
    "gpu_hours_vs_oracle",
    "cost_usd",
    "cost_vs_oracle",
    "cost_per_million_prompt_tokens_usd",
    "scale_events",
)
DAY_PEAK_RPS = 49.0
"""Half the design notes' 98 requests/s: the whole day then fits the run's time budget."""
POOL_BOUNDS = {"h100-fp8": (1, 64), "a100-bf16": (1, 32), "h100-bf16": (1, 64)}


@dataclass(frozen=True)
class Spec:
    """One scenario of the report: how to build its workload and fleet."""

    key: str
    kind: str
    """``superposed``, ``day`` or ``compressed`` (the stress test)."""
    scale: int
    profiles: tuple[str, ...] = ("h100-fp8",)
    cold_start_s: float = 120.0
    seeds: tuple[int, ...] = (0, 1, 2)
    sweep: bool = False
    stress: bool = False
    warmup_s: float = 600.0
    scored_s: float | None = None
    """Superposed: score only this much of the trace hour (``None``: all of it)."""
    compress: float = 4.0


@dataclass(frozen=True)
class Plan:
    """What to run."""

    specs: tuple[Spec, ...]
    slo_ms: float = 300.0


def full_plan(seeds: tuple[int, ...] = (0, 1, 2), sweep: bool = False) -> Plan:
    """The committed run, sized to fit about an hour on two shared cores: three seeds at ×10,
    two at ×40 and mixed, one day-long run (peak 49 requests/s: about 400,000 requests per
    policy), one stress run; the cold-start sweep only with ``sweep``."""
    one, two = seeds[:1], seeds[:2]
    return Plan(
        specs=(
            Spec("x10", "superposed", 10, seeds=seeds),
            Spec("x40", "superposed", 40, seeds=two),
            Spec("day", "day", 19, seeds=one),
            Spec("mixed-x20", "superposed", 20, profiles=("h100-fp8", "a100-bf16"), seeds=two),
            Spec("stress-x10", "compressed", 10, seeds=one, stress=True),
            *(
                Spec(f"x10-cold-{cs:g}", "superposed", 10, cold_start_s=cs, seeds=one, sweep=True)
                for cs in ((60.0, 300.0) if sweep else ())
            ),
        )
    )


def quick_plan() -> Plan:
    """A smoke run for CI: one seed, 6 scored minutes of ×10 on one pool and on mixed pools."""
    return Plan(
        specs=(
            Spec("x10", "superposed", 10, seeds=(0,), warmup_s=240.0, scored_s=360.0),
            Spec(
                "mixed-x10",
                "superposed",
                10,
                profiles=("h100-fp8", "a100-bf16"),
                seeds=(0,),
                warmup_s=240.0,
                scored_s=360.0,
            ),
        )
    )


def pool_for(profile: str, slo_ms: float = 300.0) -> PoolConfig:
    prof = PROFILES[profile]
    lo, hi = POOL_BOUNDS[profile]
    return PoolConfig(
        name=prof.gpu.lower(),
        profile=prof,
        min_replicas=lo,
        max_replicas=hi,
        cost_per_hour_usd=get_profile(prof.gpu).cost_per_hour_usd,
        slo_ms=slo_ms,
    )


def build_workload(spec: Spec, trace_path: Path, trace_name: str, seed: int) -> Workload:
    trace = read_trace(trace_path)
    if spec.kind == "superposed":
        w = superposed(trace, spec.scale, seed, f"{trace_name} x{spec.scale}", warmup_s=spec.warmup_s)
        if spec.scored_s is not None:
            end = w.score_from + spec.scored_s
            n = int(np.searchsorted(np.asarray(w.t), end))
            note = f"{w.notes[0]}; only the first {spec.scored_s:.0f}s of the hour scored (a smoke run)"
            w = replace(w, t=w.t[:n], prompt=w.prompt[:n], gen=w.gen[:n], duration=end, notes=[note])
        return w
    if spec.kind == "day":
        return diurnal_day(trace, seed, spec.compress, peak=DAY_PEAK_RPS)
    if spec.kind == "compressed":
        warm, loops = (2, 6) if spec.scale <= 10 else (8, 24)
        return rate_scaled(trace, float(spec.scale), warm + loops, warm, f"{trace_name} x{spec.scale}")
    raise ValueError(f"unknown scenario kind {spec.kind!r}")


def _unit(args: tuple[Spec, int, Path, str, float]) -> dict[str, Any]:
    """One (scenario, seed): build the workload, run every policy (runs in a worker process)."""
    spec, seed, trace_path, trace_name, slo_ms = args
    t0 = time.monotonic()
    w = build_workload(spec, trace_path, trace_name, seed)
    pools = tuple(pool_for(p, slo_ms) for p in spec.profiles)
    out = run_scenario(Scenario(w, pools, spec.cold_start_s, slo_ms, seed))
    arr = np.asarray(w.t)
    bins = np.arange(0.0, w.duration + 10.0, 10.0)
    counts, _ = np.histogram(arr, bins=bins)
    out["load"] = (bins[:-1].tolist(), (counts / 10.0).tolist())
    out["workload"] = {
        "name": w.name,
        "rate_scale": w.rate_scale,
        "notes": w.notes,
        "score_from": w.score_from,
        "duration": w.duration,
        "mean_rate": w.mean_rate,
    }
    out["unit_s"] = round(time.monotonic() - t0, 1)
    return out


def _aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    names = list(runs[0]["policies"])
    out: dict[str, Any] = {}
    for name in names:
        per_seed = []
        for r in runs:
            m = dict(r["policies"][name])
            oracle = r["policies"].get("oracle", {})
            m["gpu_hours_vs_oracle"] = m["gpu_hours"] / oracle["gpu_hours"] if oracle else math.nan
            m["cost_vs_oracle"] = m["cost_usd"] / oracle["cost_usd"] if oracle else math.nan
            per_seed.append(m)
        agg: dict[str, Any] = {}
        for key in METRICS:
            vals = [float(m[key]) for m in per_seed]
            agg[key] = round(statistics.fmean(vals), 4)
            agg[f"{key}_std"] = round(statistics.pstdev(vals), 4) if len(vals) > 1 else 0.0
            agg[f"{key}_max"] = round(max(vals), 4)
        agg["attainment_by_prompt_tokens"] = per_seed[0]["attainment_by_prompt_tokens"]
        agg["unserved"] = sum(int(m["unserved"]) for m in per_seed)
        out[name] = agg
    return out


def _scenario(spec: Spec, runs: list[dict[str, Any]], slo_ms: float) -> dict[str, Any]:
    pools = [pool_for(p, slo_ms) for p in spec.profiles]
    w0 = runs[0]["workload"]
    return {
        "key": spec.key,
        "trace": w0["name"],
        "method": {
            "superposed": "superposition",
            "day": "diurnal-superposition",
            "compressed": "time-compressed",
        }[spec.kind],
        "rate_scale": float(spec.scale),
        "profile": "+".join(spec.profiles),
        "gpu": "+".join(p.profile.gpu for p in pools),
        "pools": [
            {
                "name": p.name,
                "profile": p.profile.name,
                "min_replicas": p.min_replicas,
                "max_replicas": p.max_replicas,
                "price_per_gpu_hour_usd": p.cost_per_hour_usd,
            }
            for p in pools
        ],
        "price_per_gpu_hour_usd": pools[0].cost_per_hour_usd,
        "cold_start_s": spec.cold_start_s,
        "slo_ttft_p95_ms": slo_ms,
        "min_replicas": pools[0].min_replicas,
        "max_replicas": pools[0].max_replicas,
        "seeds": list(spec.seeds),
        "sweep": spec.sweep,
        "stress": spec.stress,
        "requests_scored": runs[0]["policies"]["oracle"]["requests"],
        "scored_minutes": round((w0["duration"] - w0["score_from"]) / 60.0, 1),
        "notes": w0["notes"],
        "simulated_s_per_seed": [r["unit_s"] for r in runs],
        "simulated_s_per_policy": runs[0]["seconds"],
        "policies": _aggregate(runs),
        "oracle_windows": runs[0]["oracle_windows"],
        "_timelines": runs[0]["timelines"],
        "_score_from": w0["score_from"],
        "_load": runs[0]["load"],
    }


def _cached(cache: Path | None, spec: Spec, seed: int) -> Path | None:
    return None if cache is None else cache / f"{spec.key}-seed{seed}.json"


def run_all(
    trace_path: Path,
    trace_name: str,
    plan: Plan,
    log: Callable[[str], None],
    jobs: int = 1,
    cache: Path | None = None,
    cached_only: bool = False,
) -> list[dict[str, Any]]:
    """Every scenario of the report, in plan order.

    With ``cache``, each finished (scenario, seed) is kept there as JSON and a
    later run with the same plan reuses it (a long run can be resumed);
    ``cached_only`` reports only what the cache holds (seeds and scenarios
    without a result are left out, and the report lists the seeds it used).
    """
    results: dict[tuple[str, int], dict[str, Any]] = {}
    units = []
    for spec in plan.specs:
        for seed in spec.seeds:
            path = _cached(cache, spec, seed)
            if path is not None and path.is_file():
                results[(spec.key, seed)] = json.loads(path.read_text(encoding="utf-8"))
                log(f"{spec.key} seed {seed}: reused {path.name}")
            elif not cached_only:
                units.append((spec, seed, trace_path, trace_name, plan.slo_ms))
    weight = {"day": 4, "compressed": 2, "superposed": 1}
    # Longest first, so that the last unit to finish is a short one.
    units.sort(key=lambda u: -(weight[u[0].kind] * u[0].scale * len(u[0].profiles)))

    def done(u: tuple[Spec, int, Path, str, float], r: dict[str, Any]) -> None:
        results[(u[0].key, u[1])] = r
        log(f"{u[0].key} seed {u[1]}: {r['unit_s']:.1f}s")
        path = _cached(cache, u[0], u[1])
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(r), encoding="utf-8")

    if jobs <= 1:
        for u in units:
            done(u, _unit(u))
    else:
        with ProcessPoolExecutor(max_workers=jobs) as ex:
            futures = {ex.submit(_unit, u): u for u in units}
            for f in as_completed(futures):
                done(futures[f], f.result())
    out = []
    for spec in plan.specs:
        seeds = tuple(s for s in spec.seeds if (spec.key, s) in results)
        if seeds:
            spec = replace(spec, seeds=seeds)
            out.append(_scenario(spec, [results[(spec.key, s)] for s in seeds], plan.slo_ms))
    return out

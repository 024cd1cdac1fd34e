"""Runs one scenario (workload, profile, cold start, seed) for every policy and scores them.

Why: the oracle's schedule is searched once per scenario and seed, and the static
baselines are sized from it (static at peak = the oracle's largest window; static
at mean × 1.5 = 1.5 × the oracle's mean replicas), so every policy in a scenario
faces the same arrivals and noise seed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from seedcoder.autoscaler import prior_for

from benchmarks.autoscaling.fleet import Fleet, PoolConfig
from benchmarks.autoscaling.oracle import oracle_schedule
from benchmarks.autoscaling.policies import Scheduled, SeedcoderPolicy, baselines
from benchmarks.autoscaling.scoring import score
from benchmarks.autoscaling.workload import Workload

WINDOW_S = 60.0


@dataclass(frozen=True)
class Scenario:
    workload: Workload
    pool: PoolConfig
    cold_start_s: float
    slo_ms: float
    seed: int
    policies: tuple[str, ...] | None = None
    """Policy names to run; ``None`` runs all."""


def initial_replicas(s: Scenario) -> int:
    """Every dynamic policy starts from the fleet a Poisson load at the trace's mean rate would need."""
    prior = prior_for(s.pool.profile.gpu, s.pool.profile.precision).rps_for_slo(s.slo_ms)
    return max(s.pool.min_replicas, min(s.pool.max_replicas, math.ceil(s.workload.mean_rate / prior)))


def run_scenario(s: Scenario) -> dict[str, Any]:
    """Scores per policy name, plus the timelines needed for the plots."""
    slo_s = s.slo_ms / 1000.0
    t0 = time.monotonic()
    want = oracle_schedule(s.workload, s.pool, slo_s, s.seed, WINDOW_S, s.cold_start_s)
    scored = want[int(s.workload.score_from // WINDOW_S) :] or want
    peak = max(scored)
    mean15 = math.ceil(1.5 * sum(scored) / len(scored))
    policies: list[Any] = [
        SeedcoderPolicy([s.pool], s.cold_start_s, s.slo_ms),
        Scheduled("oracle", want, WINDOW_S, s.cold_start_s, s.pool.name),
        Scheduled("static-peak", [peak] * len(want), WINDOW_S, 0.0, s.pool.name, interval_s=60.0),
        Scheduled("static-mean-x1.5", [mean15] * len(want), WINDOW_S, 0.0, s.pool.name, interval_s=60.0),
        *baselines([s.pool], s.slo_ms),
    ]
    out: dict[str, Any] = {"policies": {}, "timelines": {}, "oracle_windows": want}
    n0 = initial_replicas(s)
    for pol in policies:
        if s.policies is not None and pol.name not in s.policies:
            continue
        initial = pol.want[0] if isinstance(pol, Scheduled) else n0
        fleet = Fleet(s.workload, [s.pool], s.cold_start_s, s.seed, {s.pool.name: initial})
        fleet.run(pol, pol.interval_s)
        out["policies"][pol.name] = score(fleet, slo_s, WINDOW_S)
        out["timelines"][pol.name] = [(t, a[s.pool.name], r[s.pool.name]) for t, a, r in fleet.timeline]
    out["elapsed_s"] = time.monotonic() - t0
    return out

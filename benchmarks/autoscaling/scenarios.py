"""Runs one scenario (workload, pools, cold start, seed) for every policy and scores them.

Why: the oracle's schedule is searched once per scenario and seed, and the static
baselines are sized from it (static at peak = the oracle's largest window per
pool; static at mean × 1.5 = 1.5 × the oracle's mean replicas per pool), so
every policy in a scenario faces the same arrivals and noise seed. A scenario
over several pools also runs our policy on each pool alone (``seedcoder-<pool>-only``),
so that the placement across pools is scored against single-pool fleets.
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
    pools: tuple[PoolConfig, ...]
    cold_start_s: float
    slo_ms: float
    seed: int
    policies: tuple[str, ...] | None = None
    """Policy names to run; ``None`` runs all."""


def initial_replicas(s: Scenario, pools: tuple[PoolConfig, ...]) -> dict[str, int]:
    """Dynamic policies start from the main pool a Poisson load at the mean rate would need, others at min."""
    main = pools[0]
    prior = prior_for(main.profile.gpu, main.profile.precision).rps_for_slo(s.slo_ms)
    n = max(main.min_replicas, min(main.max_replicas, math.ceil(s.workload.mean_rate / prior)))
    return {p.name: n if p is main else p.min_replicas for p in pools}


def run_scenario(s: Scenario) -> dict[str, Any]:
    """Scores per policy name, plus the timelines needed for the plots."""
    slo_s = s.slo_ms / 1000.0
    t0 = time.monotonic()
    pools = list(s.pools)
    want = oracle_schedule(s.workload, pools, slo_s, s.seed, WINDOW_S, s.cold_start_s)
    first = int(s.workload.score_from // WINDOW_S)
    peak, mean15 = {}, {}
    for name, w in want.items():
        scored = w[first:] or w
        peak[name] = [max(scored)] * len(w)
        mean15[name] = [math.ceil(1.5 * sum(scored) / len(scored))] * len(w)
    oracle_s = time.monotonic() - t0
    runs: list[tuple[Any, tuple[PoolConfig, ...]]] = [
        (SeedcoderPolicy(pools, s.slo_ms), s.pools),
        (Scheduled("oracle", want, WINDOW_S, s.cold_start_s), s.pools),
        (Scheduled("static-peak", peak, WINDOW_S, 0.0, interval_s=60.0), s.pools),
        (Scheduled("static-mean-x1.5", mean15, WINDOW_S, 0.0, interval_s=60.0), s.pools),
        *((b, s.pools) for b in baselines(pools, s.slo_ms)),
    ]
    if len(pools) > 1:
        runs += [(SeedcoderPolicy([p], s.slo_ms, name=f"seedcoder-{p.name}-only"), (p,)) for p in pools]
    out: dict[str, Any] = {"policies": {}, "timelines": {}, "oracle_windows": want, "seconds": {}}
    for pol, fleet_pools in runs:
        if s.policies is not None and pol.name not in s.policies:
            continue
        t1 = time.monotonic()
        if isinstance(pol, Scheduled):
            initial = {name: w[0] for name, w in pol.want.items()}
        else:
            initial = initial_replicas(s, fleet_pools)
        fleet = Fleet(s.workload, list(fleet_pools), s.cold_start_s, s.seed, initial)
        fleet.run(pol, pol.interval_s)
        out["policies"][pol.name] = score(fleet, slo_s, WINDOW_S)
        out["timelines"][pol.name] = [
            (t, sum(a.values()), sum(r.values()), dict(a)) for t, a, r in fleet.timeline
        ]
        out["seconds"][pol.name] = round(time.monotonic() - t1, 2)
    out["seconds"]["oracle-search"] = round(oracle_s, 2)
    out["elapsed_s"] = time.monotonic() - t0
    return out

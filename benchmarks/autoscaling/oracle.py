"""The offline oracle: the cheapest replicas that meet the SLO in each window, known in advance.

Why: GPU-hours mean little without a lower bound. With perfect foresight the
oracle picks, for each one-minute window, the cheapest replica counts whose
window p95 TTFT meets the SLO, and starts replicas one cold start early (the
``Scheduled`` policy bills them from then). It is searched window by window in
the same simulator (the gateway's router included), each window starting empty
after a short warm prefix of the previous window's arrivals (the carried-over
queue is approximated).

Over several pools (an H100 and an A100 pool, say) the first pool is the main
one: the search finds its smallest count with the other pools at their minimum,
then swaps main-pool replicas for cheaper replicas of another pool while the
window still meets the SLO and the swap lowers the cost.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable

import numpy as np

from benchmarks.autoscaling.fleet import Fleet, PoolConfig
from benchmarks.autoscaling.workload import Workload

PREFIX_S = 10.0
MAX_SWAPS = 3
"""Most main-pool replicas the search trades for another pool's, per window."""

Schedule = dict[str, list[int]]


def _window_p95(
    w: Workload, pools: list[PoolConfig], lo: int, j0: int, hi: int, n: dict[str, int], seed: int
) -> float:
    sub = Workload(
        name="oracle-window",
        t=w.t[lo:hi],
        prompt=w.prompt[lo:hi],
        gen=w.gen[lo:hi],
        duration=w.t[hi - 1] + 1e-6 if hi > lo else 0.0,
    )
    fleet = Fleet(sub, pools, cold_start_s=0.0, seed=seed, initial=n)
    fleet.run(None, 0.0, tail_s=600.0)
    vals = np.asarray(fleet.ttft[j0 - lo :])
    return float(np.quantile(vals, 0.95)) if len(vals) else 0.0


def oracle_schedule(
    w: Workload,
    pools: list[PoolConfig],
    slo_s: float,
    seed: int,
    window_s: float = 60.0,
    cold_start_s: float = 120.0,
    refine: int = 3,
) -> Schedule:
    """Replicas per pool and window (index k covers ``[k·window, (k+1)·window)``).

    The window-by-window search is then checked in one full run: a window that
    still breaks the SLO (queues carried over a boundary) gets one more main-pool
    replica, up to ``refine`` rounds.
    """
    want = _search(w, pools, slo_s, seed, window_s)
    main = pools[0]
    for _ in range(refine):
        bad = violated_windows(w, pools, want, slo_s, seed, window_s, cold_start_s)
        bad = [k for k in bad if want[main.name][k] < main.max_replicas]
        if not bad:
            break
        for k in bad:
            n = want[main.name][k]
            want[main.name][k] = min(main.max_replicas, n + max(1, round(0.05 * n)))
    return want


def violated_windows(
    w: Workload,
    pools: list[PoolConfig],
    want: Schedule,
    slo_s: float,
    seed: int,
    window_s: float,
    cold_start_s: float,
) -> list[int]:
    """Windows whose p95 TTFT breaks the SLO when the schedule is followed in a full run."""
    from benchmarks.autoscaling.policies import Scheduled

    fleet = Fleet(w, pools, cold_start_s, seed, {p.name: want[p.name][0] for p in pools})
    fleet.run(Scheduled("oracle", want, window_s, cold_start_s), 5.0)
    t = np.asarray(w.t)
    ttft = np.asarray(fleet.ttft)
    ttft = np.where(np.isfinite(ttft), ttft, fleet.now - t)
    k = (t // window_s).astype(int)
    out = []
    for j in range(len(want[pools[0].name])):
        vals = ttft[k == j]
        if len(vals) and np.quantile(vals, 0.95) > slo_s:
            out.append(j)
    return out


def _smallest(ok: Callable[[int], bool], prev: int, lo_n: int, hi_n: int) -> int:
    """Smallest n in [lo_n, hi_n] with ok(n) (ok is monotone), searched outward from ``prev``."""
    prev = min(max(prev, lo_n), hi_n)
    if ok(prev):
        hi_n = prev
        step = 1
        while hi_n - step >= lo_n and ok(hi_n - step):
            hi_n -= step
            step *= 2
        lo_n = max(lo_n, hi_n - step + 1)
    else:
        lo_n = prev + 1
        step = 1
        while lo_n + step <= hi_n and not ok(lo_n + step - 1):
            lo_n += step
            step *= 2
        hi_n = min(hi_n, lo_n + step - 1)
    while lo_n < hi_n:
        mid = (lo_n + hi_n) // 2
        if ok(mid):
            hi_n = mid
        else:
            lo_n = mid + 1
    return hi_n


def _search(w: Workload, pools: list[PoolConfig], slo_s: float, seed: int, window_s: float) -> Schedule:
    windows = math.ceil(w.duration / window_s)
    main, others = pools[0], pools[1:]
    want: Schedule = {p.name: [] for p in pools}
    prev = max(1, main.min_replicas)
    for k in range(windows):
        a, b = k * window_s, (k + 1) * window_s
        j0, hi = bisect_left(w.t, a), bisect_left(w.t, b)
        lo = bisect_left(w.t, a - PREFIX_S)
        base = {p.name: p.min_replicas for p in pools}
        if hi <= j0:
            for p in pools:
                want[p.name].append(base[p.name])
            continue
        cache: dict[tuple[int, ...], bool] = {}

        def ok_at(
            n: dict[str, int],
            j0: int = j0,
            lo: int = lo,
            hi: int = hi,
            k: int = k,
            cache: dict[tuple[int, ...], bool] = cache,
        ) -> bool:
            key = tuple(n[p.name] for p in pools)
            if key not in cache:
                cache[key] = _window_p95(w, pools, lo, j0, hi, n, seed * 100003 + k) <= slo_s
            return cache[key]

        floor = 1 if not any(p.min_replicas for p in others) else main.min_replicas

        def main_ok(n: int, base: dict[str, int] = base) -> bool:
            return ok_at({**base, main.name: n})

        n_main = _smallest(main_ok, prev, max(floor, main.min_replicas), main.max_replicas)
        best = {**base, main.name: max(main.min_replicas, n_main)}
        for other in sorted(others, key=lambda p: p.cost_per_hour_usd):
            if other.cost_per_hour_usd >= main.cost_per_hour_usd:
                continue
            for _ in range(MAX_SWAPS):
                trial = {**best, main.name: best[main.name] - 1, other.name: best[other.name] + 1}
                if trial[main.name] < max(main.min_replicas, 1) or trial[other.name] > other.max_replicas:
                    break
                if not ok_at(trial):
                    break
                best = trial
        for p in pools:
            want[p.name].append(best[p.name])
        prev = max(1, n_main)
    return want

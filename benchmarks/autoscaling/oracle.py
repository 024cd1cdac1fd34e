"""The offline oracle: the fewest replicas that meet the SLO in each window, known in advance.

Why: GPU-hours mean little without a lower bound. With perfect foresight the
oracle picks, for each one-minute window, the smallest replica count whose
window p95 TTFT meets the SLO, and starts replicas one cold start early (the
``Scheduled`` policy bills them from then). It is searched window by window in
the same simulator, each window starting empty after a short warm prefix of the
previous window's arrivals (the carried-over queue is approximated).
"""

from __future__ import annotations

import math
from bisect import bisect_left

import numpy as np

from benchmarks.autoscaling.fleet import Fleet, PoolConfig
from benchmarks.autoscaling.workload import Workload

PREFIX_S = 10.0


def _window_p95(w: Workload, pool: PoolConfig, lo: int, j0: int, hi: int, n: int, seed: int) -> float:
    sub = Workload(
        name="oracle-window",
        t=w.t[lo:hi],
        prompt=w.prompt[lo:hi],
        gen=w.gen[lo:hi],
        duration=w.t[hi - 1] + 1e-6 if hi > lo else 0.0,
    )
    fleet = Fleet(sub, [pool], cold_start_s=0.0, seed=seed, initial={pool.name: n})
    fleet.run(None, 0.0, tail_s=600.0)
    vals = np.asarray(fleet.ttft[j0 - lo :])
    return float(np.quantile(vals, 0.95)) if len(vals) else 0.0


def oracle_schedule(
    w: Workload,
    pool: PoolConfig,
    slo_s: float,
    seed: int,
    window_s: float = 60.0,
    cold_start_s: float = 120.0,
    refine: int = 8,
) -> list[int]:
    """Replicas per window (index k covers ``[k·window, (k+1)·window)``).

    The window-by-window search is then checked in one full run: a window that
    still breaks the SLO (queues carried over a boundary) gets one more replica,
    up to ``refine`` rounds.
    """
    want = _search(w, pool, slo_s, seed, window_s)
    for _ in range(refine):
        bad = violated_windows(w, pool, want, slo_s, seed, window_s, cold_start_s)
        bad = [k for k in bad if want[k] < pool.max_replicas]
        if not bad:
            break
        for k in bad:
            want[k] = min(pool.max_replicas, want[k] + max(1, round(0.05 * want[k])))
    return want


def violated_windows(
    w: Workload,
    pool: PoolConfig,
    want: list[int],
    slo_s: float,
    seed: int,
    window_s: float,
    cold_start_s: float,
) -> list[int]:
    """Windows whose p95 TTFT breaks the SLO when the schedule is followed in a full run."""
    from benchmarks.autoscaling.policies import Scheduled

    fleet = Fleet(w, [pool], cold_start_s, seed, {pool.name: want[0]})
    fleet.run(Scheduled("oracle", want, window_s, cold_start_s, pool.name), 5.0)
    t = np.asarray(w.t)
    ttft = np.asarray(fleet.ttft)
    ttft = np.where(np.isfinite(ttft), ttft, fleet.now - t)
    k = (t // window_s).astype(int)
    out = []
    for j in range(len(want)):
        vals = ttft[k == j]
        if len(vals) and np.quantile(vals, 0.95) > slo_s:
            out.append(j)
    return out


def _search(w: Workload, pool: PoolConfig, slo_s: float, seed: int, window_s: float) -> list[int]:
    windows = math.ceil(w.duration / window_s)
    want: list[int] = []
    prev = max(1, pool.min_replicas)
    for k in range(windows):
        a, b = k * window_s, (k + 1) * window_s
        j0, hi = bisect_left(w.t, a), bisect_left(w.t, b)
        lo = bisect_left(w.t, a - PREFIX_S)
        if hi <= j0:
            want.append(pool.min_replicas)
            continue
        cache: dict[int, bool] = {}

        def ok(
            n: int, j0: int = j0, lo: int = lo, hi: int = hi, k: int = k, cache: dict[int, bool] = cache
        ) -> bool:
            if n not in cache:
                cache[n] = _window_p95(w, pool, lo, j0, hi, n, seed * 100003 + k) <= slo_s
            return cache[n]

        lo_n, hi_n = max(1, pool.min_replicas), pool.max_replicas
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
        n = max(pool.min_replicas, hi_n)
        want.append(n)
        prev = max(1, n)
    return want

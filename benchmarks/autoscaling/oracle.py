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
    sub = Workload(name="oracle-window", t=w.t[lo:hi], prompt=w.prompt[lo:hi], gen=w.gen[lo:hi],
                   duration=w.t[hi - 1] + 1e-6 if hi > lo else 0.0)
    fleet = Fleet(sub, [pool], cold_start_s=0.0, seed=seed, initial={pool.name: n})
    fleet.run(None, 0.0, tail_s=600.0)
    vals = np.asarray(fleet.ttft[j0 - lo:])
    return float(np.quantile(vals, 0.95)) if len(vals) else 0.0


def oracle_schedule(w: Workload, pool: PoolConfig, slo_s: float, seed: int, window_s: float = 60.0) -> list[int]:
    """Replicas per window (index k covers ``[k·window, (k+1)·window)``)."""
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

        def ok(n: int, j0: int = j0, lo: int = lo, hi: int = hi, k: int = k) -> bool:
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

"""Scores one simulated run the way the design notes' report asks.

Why: whole-run percentiles hide bursts, so besides attainment and p50/p95/p99
TTFT the report counts one-minute windows whose p95 breaks the SLO; GPU-hours
are billed from scheduling; everything before ``score_from`` (warm-up) is
excluded so that all policies are judged on the same span.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.autoscaling.fleet import Fleet

BUCKETS = ((0, 1024), (1024, 2048), (2048, 4096), (4096, 1 << 30))


def score(fleet: Fleet, slo_s: float, window_s: float = 60.0) -> dict[str, Any]:
    w = fleet.w
    t = np.asarray(w.t)
    end = w.duration
    sel = (t >= w.score_from) & (t < end)
    ttft = np.asarray(fleet.ttft)[sel]
    unserved = ~np.isfinite(ttft)
    ttft = np.where(unserved, fleet.now - t[sel], ttft)
    ts = t[sel]
    prompts = np.asarray(w.prompt)[sel]
    win = ((ts - w.score_from) // window_s).astype(int)
    n_win = int(np.ceil((end - w.score_from) / window_s))
    violated = 0
    order = np.argsort(win, kind="stable")
    bounds = np.searchsorted(win[order], np.arange(n_win + 1))
    for k in range(n_win):
        vals = ttft[order[bounds[k] : bounds[k + 1]]]
        if len(vals) and np.quantile(vals, 0.95) > slo_s:
            violated += 1
    gpu_h = 0.0
    cost = 0.0
    for pool, reps in fleet.replicas.items():
        price = fleet.pools[pool].cost_per_hour_usd
        for r in reps:
            a = max(r.created_at, w.score_from)
            b = min(r.stopped_at if r.stopped_at is not None else end, end)
            if b > a:
                gpu_h += (b - a) / 3600.0
                cost += (b - a) / 3600.0 * price
    events = sum(1 for e in fleet.scale_events if e.time >= w.score_from)
    by_bucket = {}
    for lo, hi in BUCKETS:
        m = (prompts >= lo) & (prompts < hi)
        by_bucket[f"{lo}-{hi if hi < 1 << 30 else 'max'}"] = (
            round(float(np.mean(ttft[m] <= slo_s) * 100.0), 2) if m.any() else None
        )
    tokens = float(prompts.sum())
    return {
        "requests": int(sel.sum()),
        "attainment_pct": float(np.mean(ttft <= slo_s) * 100.0) if len(ttft) else 100.0,
        "windows_violated_pct": 100.0 * violated / max(n_win, 1),
        "ttft_p50_ms": float(np.quantile(ttft, 0.5) * 1000.0),
        "ttft_p95_ms": float(np.quantile(ttft, 0.95) * 1000.0),
        "ttft_p99_ms": float(np.quantile(ttft, 0.99) * 1000.0),
        "gpu_hours": gpu_h,
        "cost_usd": cost,
        "cost_per_million_prompt_tokens_usd": cost / (tokens / 1e6) if tokens else 0.0,
        "scale_events": events,
        "unserved": int(unserved.sum()),
        "attainment_by_prompt_tokens": by_bucket,
    }

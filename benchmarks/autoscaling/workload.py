"""Request workloads for the autoscaling benchmark: the real trace, rate-scaled, and a day-long cycle.

Why: the policy has to be judged on real burstiness (the Azure code trace) and on
daily cycles. Rate scaling is by superposition (:func:`superposed`): ×k is k
copies of the trace, each shifted circularly by its own random offset, at the
trace's own time scale: k times as many developers. Dividing the timestamps
(:func:`rate_scaled`) models the same developers typing k times faster and
squeezes the hour into less than a few cold starts; it is kept only as a
labelled stress test. Any CSV with the columns ``TIMESTAMP``, ``ContextTokens``
and ``GeneratedTokens`` can be replayed.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np


@dataclass
class Workload:
    """Arrival times (s from 0, sorted), prompt and output tokens; scoring starts at ``score_from``."""

    name: str
    t: list[float]
    prompt: list[int]
    gen: list[int]
    duration: float
    score_from: float = 0.0
    rate_scale: float = 1.0
    notes: list[str] = field(default_factory=list)

    @property
    def mean_rate(self) -> float:
        return len(self.t) / self.duration if self.duration > 0 else 0.0


@dataclass(frozen=True)
class Trace:
    """A trace as read: seconds from the first request, tokens."""

    t: np.ndarray
    prompt: np.ndarray
    gen: np.ndarray


def read_trace(path: Path) -> Trace:
    """Read a TIMESTAMP/ContextTokens/GeneratedTokens CSV (sub-second ISO timestamps)."""
    times: list[float] = []
    prompt: list[int] = []
    gen: list[int] = []
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            stamp = row["TIMESTAMP"].strip()
            head, _, frac = stamp.partition(".")
            ts = datetime.fromisoformat(head).timestamp() + (float("0." + frac) if frac else 0.0)
            times.append(ts)
            prompt.append(max(1, int(row["ContextTokens"])))
            gen.append(max(1, int(row["GeneratedTokens"])))
    t = np.asarray(times)
    order = np.argsort(t, kind="stable")
    t = t[order] - t[order][0]
    return Trace(t=t, prompt=np.asarray(prompt)[order], gen=np.asarray(gen)[order])


def rate_scaled(trace: Trace, scale: float, loops: int, warmup_loops: int, name: str) -> Workload:
    """STRESS TEST ONLY: timestamps divided by ``scale``, replayed ``loops`` times back to back.

    This models the same developers typing ``scale`` times faster, not more
    developers; use :func:`superposed` for rate scaling. The compressed hour lasts
    minutes, shorter than a few cold starts, so it is looped to give the
    controllers time; the first ``warmup_loops`` are not scored.
    """
    period = (trace.t[-1] + float(np.median(np.diff(trace.t)))) / scale
    base = trace.t / scale
    t = np.concatenate([base + k * period for k in range(loops)])
    prompt = np.tile(trace.prompt, loops)
    gen = np.tile(trace.gen, loops)
    return Workload(
        name=name,
        t=t.tolist(),
        prompt=prompt.tolist(),
        gen=gen.tolist(),
        duration=loops * period,
        score_from=math.ceil(warmup_loops * period / 60.0) * 60.0,
        rate_scale=scale,
        notes=[
            f"STRESS TEST (time-compressed, not rate scaling): timestamps divided by {scale:g} "
            f"(one trace hour lasts {period:.0f}s), replayed {loops} times; "
            f"the first {warmup_loops} replay(s) (rounded up to whole minutes) are warm-up and not scored"
        ],
    )


def _period(trace: Trace) -> float:
    """The trace's length as a circle: last arrival plus one median gap."""
    return float(trace.t[-1] + float(np.median(np.diff(trace.t))))


def _copies(trace: Trace, k: int, rng: np.random.Generator, span: float) -> tuple[np.ndarray, np.ndarray]:
    """``k`` circularly shifted copies of the trace covering ``[0, span)``: (times, trace row of each)."""
    period = _period(trace)
    reps = math.ceil(span / period) + 1
    times, rows = [], []
    idx = np.arange(len(trace.t))
    for _ in range(k):
        shifted = (trace.t + rng.uniform(0.0, period)) % period
        order = np.argsort(shifted, kind="stable")
        base, base_rows = shifted[order], idx[order]
        t = np.concatenate([base + j * period for j in range(reps)])
        keep = t < span
        times.append(t[keep])
        rows.append(np.tile(base_rows, reps)[keep])
    t_all, r_all = np.concatenate(times), np.concatenate(rows)
    order = np.argsort(t_all, kind="stable")
    return t_all[order], r_all[order]


def superposed(trace: Trace, k: int, seed: int, name: str, warmup_s: float = 600.0) -> Workload:
    """×``k`` by superposition: one trace hour of ``k`` shifted copies, after ``warmup_s`` unscored.

    The warm-up replays the copies' last ``warmup_s`` seconds (the copies are
    circular), so the scored hour starts from a fleet that has seen its load.
    """
    rng = np.random.default_rng(seed)
    period = _period(trace)
    t, rows = _copies(trace, k, rng, period)
    tail = t >= period - warmup_s
    times = np.concatenate([t[tail] - (period - warmup_s), t + warmup_s])
    rows = np.concatenate([rows[tail], rows])
    return Workload(
        name=name,
        t=times.tolist(),
        prompt=trace.prompt[rows].tolist(),
        gen=trace.gen[rows].tolist(),
        duration=period + warmup_s,
        score_from=warmup_s,
        rate_scale=float(k),
        notes=[
            f"rate x{k} by superposition: {k} copies of the trace, each shifted circularly by its own "
            f"random offset (seed {seed}), at the trace's own time scale; one trace hour "
            f"({period:.0f}s) scored after a {warmup_s:.0f}s warm-up"
        ],
    )


def weekday_rate(hour_of_day: np.ndarray, peak: float) -> np.ndarray:
    """Requests/s over a weekday: a working-hours hump with a lunch dip over a night trough."""
    return diurnal_rate(np.asarray(hour_of_day) % 24.0, peak)


def diurnal_day(
    trace: Trace, seed: int, compress: float = 4.0, peak: float = 98.0, start_hour: float = 4.0
) -> Workload:
    """A weekday from ``start_hour`` round the clock, time-compressed ``compress`` times (at most 4).

    Superposed shifted copies of the trace (enough for the peak) are thinned by
    the diurnal envelope, so the trace's own second-to-minute burstiness is kept
    at its own time scale and only the daily envelope runs faster. The first
    half hour of the (compressed) night is warm-up and not scored.
    """
    if not 1.0 <= compress <= 4.0:
        raise ValueError(
            f"compress must be within 1..4 (got {compress:g}): a day shorter than 6 h hides cold starts"
        )
    rng = np.random.default_rng(seed)
    duration = 86400.0 / compress
    k = math.ceil(peak / (len(trace.t) / _period(trace)))
    t, rows = _copies(trace, k, rng, duration)
    hour = (start_hour + t * compress / 3600.0) % 24.0
    keep = rng.random(len(t)) < weekday_rate(hour, peak) / peak
    warm = 1800.0 / compress
    return Workload(
        name="diurnal-day",
        t=t[keep].tolist(),
        prompt=trace.prompt[rows[keep]].tolist(),
        gen=trace.gen[rows[keep]].tolist(),
        duration=duration,
        score_from=warm,
        rate_scale=float(k),
        notes=[
            f"one weekday compressed {compress:g}x in time (a day lasts {duration:.0f}s), "
            f"from {start_hour:g}:00; "
            f"{k} superposed shifted copies of the trace (seed {seed}) thinned by a diurnal envelope "
            f"(peak {peak:g} req/s, night trough {0.06 * peak:.0f} req/s); the trace's bursts keep their "
            f"own time scale; first {warm:.0f}s not scored"
        ],
    )


def diurnal_rate(hour_of_week: np.ndarray, weekday_peak: float) -> np.ndarray:
    """Requests/s at each hour of the week: working-hours hump on weekdays, low nights and weekends."""
    day = np.floor(hour_of_week / 24.0)
    h = hour_of_week % 24.0
    hump = np.exp(-0.5 * ((h - 14.0) / 3.2) ** 2) * (1.0 - 0.12 * np.exp(-0.5 * ((h - 12.5) / 0.6) ** 2))
    night = 0.06
    weekday = day < 5
    peak = np.where(weekday, weekday_peak, 0.3 * weekday_peak)
    return peak * (night + (1.0 - night) * hump)


def diurnal_week(
    trace: Trace, seed: int, compress: float, weekday_peak: float = 98.0, warmup_s: float = 300.0
) -> Workload:
    """A synthetic week, time-compressed ``compress`` times, arrivals Poisson with minute-scale gusts.

    Rates keep their real values (weekday peaks ``weekday_peak`` req/s); only the
    clock runs faster, so a day lasts ``86400/compress`` seconds. Prompt and output
    lengths are resampled from the trace.
    """
    rng = np.random.default_rng(seed)
    duration = 7 * 86400.0 / compress
    step = 1.0
    grid = np.arange(0.0, duration + warmup_s, step)
    hours = ((grid - warmup_s) % duration) * compress / 3600.0
    gust = np.exp(0.15 * np.repeat(rng.standard_normal(math.ceil(len(grid) / 30) + 1), 30)[: len(grid)])
    lam = diurnal_rate(hours, weekday_peak) * gust
    counts = rng.poisson(lam * step)
    t = np.repeat(grid, counts) + rng.random(int(counts.sum())) * step
    t.sort()
    idx = rng.integers(0, len(trace.t), size=len(t))
    return Workload(
        name="diurnal-week",
        t=t.tolist(),
        prompt=trace.prompt[idx].tolist(),
        gen=trace.gen[idx].tolist(),
        duration=duration + warmup_s,
        score_from=warmup_s,
        rate_scale=1.0,
        notes=[
            f"synthetic week compressed {compress:g}x in time (a day lasts {86400 / compress:.0f}s), "
            f"weekday peak {weekday_peak:g} req/s, Poisson arrivals with 30-s gusts (sigma 0.15), "
            f"lengths resampled from the code trace; {warmup_s:.0f}s warm-up (Sunday night) not scored"
        ],
    )

"""Request workloads for the autoscaling benchmark: the real trace, rate-scaled, and a synthetic week.

Why: the policy has to be judged on real burstiness (the Azure code trace) and on
daily cycles (a synthetic week). Any CSV with the columns ``TIMESTAMP``,
``ContextTokens`` and ``GeneratedTokens`` can be replayed.
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
    """Timestamps divided by ``scale``; the compressed trace replayed ``loops`` times back to back.

    The compressed hour lasts minutes, shorter than a few cold starts, so it is
    looped to give the controllers time; the first ``warmup_loops`` are not scored.
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
            f"timestamps divided by {scale:g} (one trace hour lasts {period:.0f}s), replayed {loops} times; "
            f"the first {warmup_loops} replay(s) (rounded up to whole minutes) are warm-up and not scored"
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

"""Short-horizon load forecast: where will the request rate be one cold start from now?

Why: a replica asked for now serves only after its cold start (minutes for an 8B
engine). Scaling on today's rate is always one cold start late on a rising load;
peers either ignore that (HPA, KPA) or forecast a whole interval (Dynamo). A
least-squares trend over the last few minutes, extrapolated one cold start plus
one control interval ahead and used only upward, starts replicas early on a ramp
and never invents load on a falling one.
"""

from __future__ import annotations

from collections.abc import Sequence

_MIN_R2 = 0.8
"""A trend must explain this share of the recent variance to be extrapolated (bursts are not ramps)."""
_MAX_GROWTH = 1.25
"""The forecast never exceeds this multiple of the last sample."""
_DAMPING = 0.5
"""Share of the extrapolated rise that is believed (a damped trend: ramps flatten)."""


def trend(samples: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """Least-squares (level at the last sample, slope per second), or ``None`` with under 3 samples."""
    if len(samples) < 3:
        return None
    n = float(len(samples))
    t0 = samples[-1][0]
    mean_t = sum(t - t0 for t, _ in samples) / n
    mean_y = sum(y for _, y in samples) / n
    var = sum((t - t0 - mean_t) ** 2 for t, _ in samples)
    if var <= 0.0:
        return None
    slope = sum((t - t0 - mean_t) * (y - mean_y) for t, y in samples) / var
    level = mean_y - slope * mean_t
    return level, slope


def r_squared(samples: Sequence[tuple[float, float]], level: float, slope: float) -> float:
    """Share of the samples' variance the linear trend explains."""
    t0 = samples[-1][0]
    mean_y = sum(y for _, y in samples) / len(samples)
    total = sum((y - mean_y) ** 2 for _, y in samples)
    if total <= 0.0:
        return 0.0
    resid = sum((y - level - slope * (t - t0)) ** 2 for t, y in samples)
    return max(0.0, 1.0 - resid / total)


def forecast(samples: Sequence[tuple[float, float]], horizon_s: float) -> float | None:
    """The rate expected ``horizon_s`` after the last sample, never below the last sample."""
    if not samples:
        return None
    last = samples[-1][1]
    fit = trend(samples)
    if fit is None:
        return last
    level, slope = fit
    if slope <= 0.0 or r_squared(samples, level, slope) < _MIN_R2:
        return last
    rise = max(0.0, level + slope * horizon_s - last) * _DAMPING
    return min(_MAX_GROWTH * last, last + rise)


def is_rising(samples: Sequence[tuple[float, float]]) -> bool:
    """True when the recent load trend points up (then nothing scales down)."""
    fit = trend(samples)
    if fit is None:
        return len(samples) == 2 and samples[1][1] > samples[0][1]
    return fit[1] > 0.0 and samples[-1][1] >= samples[0][1]

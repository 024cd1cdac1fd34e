"""The SLO arithmetic shared by rules, alerts and dashboards.

Why: a TTFT objective such as "95% of requests get their first token within 300 ms"
is measured as the share of requests slower than the threshold, read from the
gateway's TTFT histogram at the bucket whose ``le`` equals the threshold. That only
works if the gateway's buckets contain the threshold, so the buckets the SLO relies
on are named here, and the burn-rate windows of the Google SRE workbook
(multi-window, multi-burn-rate alerts) are kept as data in one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

TTFT_SLO_BUCKETS_SECONDS: Final[tuple[float, ...]] = (
    0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0
)  # fmt: skip
"""TTFT thresholds an SLO may use; the gateway's TTFT histogram must have each as a bucket bound."""

DEPLOYMENT_LABELS: Final = ("namespace", "deployment")
"""Labels that name one SeedCoderDeployment on every scraped series (set by the scrape monitor)."""


@dataclass(frozen=True)
class BurnWindow:
    """One alerting condition: both windows burn faster than ``factor`` times the budget."""

    long: str
    short: str
    factor: float
    severity: str


BURN_WINDOWS: Final[tuple[BurnWindow, ...]] = (
    BurnWindow("1h", "5m", 14.4, "page"),
    BurnWindow("6h", "30m", 6.0, "page"),
    BurnWindow("1d", "2h", 3.0, "ticket"),
    BurnWindow("3d", "6h", 1.0, "ticket"),
)
"""The SRE workbook's table: 2% of a 30-day budget in 1h, 5% in 6h (page); 10% in 1d, 10% in 3d (ticket)."""


def sli_windows() -> tuple[str, ...]:
    """Every range the burn-rate alerts read, shortest first, each once."""
    seen: list[str] = []
    for window in BURN_WINDOWS:
        for rng in (window.short, window.long):
            if rng not in seen:
                seen.append(rng)
    return tuple(sorted(seen, key=duration_seconds))


def duration_seconds(duration: str) -> int:
    """Seconds in a simple Prometheus duration (``5m``, ``1h``, ``3d``)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    return int(duration[:-1]) * units[duration[-1]]


def threshold_bucket(ttft_p95_ms: int) -> float:
    """The bucket bound (seconds) used for a TTFT objective of ``ttft_p95_ms``.

    An objective that is a bucket bound is measured exactly. Otherwise the nearest
    lower bound is used: requests between it and the objective count as slow, so the
    alerts may fire early but never miss a breach.
    """
    if ttft_p95_ms <= 0:
        raise ValueError(f"ttft_p95_ms must be positive, got {ttft_p95_ms}")
    target = ttft_p95_ms / 1000
    lower = [b for b in TTFT_SLO_BUCKETS_SECONDS if b <= target + 1e-9]
    if not lower:
        raise ValueError(
            f"ttft_p95_ms={ttft_p95_ms} is below the smallest TTFT bucket "
            f"({TTFT_SLO_BUCKETS_SECONDS[0] * 1000:g} ms)"
        )
    return lower[-1]


def le_matcher(bound: float) -> str:
    """A PromQL matcher for the bucket ``le`` label of ``bound``.

    Python's client writes ``1.0`` where Go clients and Prometheus 3 write ``1``;
    the regular expression accepts both spellings of a whole number.
    """
    if not math.isfinite(bound):
        return 'le="+Inf"'
    if bound == int(bound):
        whole = int(bound)
        return f'le=~"{whole}|{whole}\\\\.0"'
    return f'le="{bound!r}"'

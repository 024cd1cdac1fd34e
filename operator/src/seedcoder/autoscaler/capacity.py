"""Online estimate of the requests/s one replica holds at the TTFT SLO.

Why: a static per-GPU figure is wrong as soon as the prompt mix, the burstiness or
the engine build changes; latency feedback alone reacts late and oscillates. The
policy keeps one number per pool and corrects it from every informative
observation, using a queueing-shaped latency curve
``p95(x) = base + w·ρ/(1−ρ)`` (ρ = utilisation, x = requests/s per replica) whose
scale is fixed so that ``p95(capacity) = SLO``. Each observation (x, p95) gives
the capacity that would explain it; the estimate moves toward it geometrically,
faster down (safe) than up, with bounded steps.
"""

from __future__ import annotations

import math

from seedcoder.autoscaler.priors import CapacityPrior

_MIN_INFORMATIVE_RHO = 0.15
"""Below this inferred utilisation the latency says nothing about capacity."""
_MAX_UP = 1.2
"""Largest factor one observation may raise the estimate by."""
_MAX_DOWN = 3.0
"""Largest factor one observation may lower the estimate by."""
_BOUNDS = (0.1, 5.0)
"""The estimate stays within these multiples of the prior."""


def implied_capacity(
    per_replica_rps: float, p95_ms: float, slo_ms: float, base_ms: float, rho_at_slo: float
) -> float | None:
    """Capacity at the SLO that explains ``p95_ms`` at ``per_replica_rps``, or ``None`` if uninformative."""
    if per_replica_rps <= 0 or p95_ms <= base_ms or slo_ms <= base_ms:
        return None
    w = (slo_ms - base_ms) * (1.0 - rho_at_slo) / rho_at_slo
    q = (p95_ms - base_ms) / w
    rho = q / (1.0 + q)
    if rho < _MIN_INFORMATIVE_RHO:
        return None
    return rho_at_slo * per_replica_rps / rho


def predicted_p95_ms(
    per_replica_rps: float, capacity_rps: float, slo_ms: float, base_ms: float, rho_at_slo: float
) -> float:
    """The latency curve the estimate assumes (used by tests and the benchmark's report)."""
    rho = rho_at_slo * per_replica_rps / capacity_rps
    if rho >= 1.0:
        return math.inf
    w = (max(slo_ms, base_ms) - base_ms) * (1.0 - rho_at_slo) / rho_at_slo
    return base_ms + w * rho / (1.0 - rho)


def update_capacity(
    current: float,
    prior: CapacityPrior,
    prior_rps: float,
    per_replica_rps: float,
    p95_ms: float,
    slo_ms: float,
    rate_down: float,
    rate_up: float,
) -> float:
    """One learning step; returns the new estimate (unchanged when the observation is uninformative)."""
    implied = implied_capacity(per_replica_rps, p95_ms, slo_ms, prior.base_p95_ms, prior.utilisation_at_slo)
    if implied is None:
        return current
    ratio = min(_MAX_UP, max(1.0 / _MAX_DOWN, implied / current))
    gain = rate_down if ratio < 1.0 else rate_up
    new = current * float(ratio**gain)
    lo, hi = _BOUNDS
    return min(hi * prior_rps, max(lo * prior_rps, new))

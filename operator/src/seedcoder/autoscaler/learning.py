"""What the policy learns from each fresh observation of a pool.

Why its own module: learning (the capacity estimate, the memory of windows near or over the SLO,
the load history for the forecast) is state bookkeeping, separate from deciding;
the policy calls ``learn`` once per fresh observation, then plans with
``usable_capacity``.
"""

from __future__ import annotations

import math

from seedcoder.autoscaler.capacity import implied_capacity, update_capacity
from seedcoder.autoscaler.models import PolicyConfig, PoolObservation, PoolSpec, PoolState
from seedcoder.autoscaler.priors import prior_for


def learn(ps: PoolState, pool: PoolSpec, obs: PoolObservation, now: float, cfg: PolicyConfig) -> None:
    """Update ``ps`` (a copy owned by this call) from one fresh observation."""
    prior = prior_for(pool.gpu, pool.precision)
    prior_rps = prior.rps_for_slo(cfg.slo_ttft_p95_ms)
    if ps.capacity_rps is None:
        ps.capacity_rps = prior_rps
    if ps.last_ready != obs.ready:
        ps.ready_since, ps.last_ready = now, obs.ready
    settled = ps.ready_since is not None and now - ps.ready_since >= cfg.interval_s * 4
    if ps.observing_since is None:
        ps.observing_since = now
    ps.breaches = []  # superseded by ``needs``; emptied so that states written before stay valid
    ps.needs = [n for n in ps.needs if n[0] > now - cfg.breach_memory_s]
    assert obs.observed_at is not None
    assert obs.request_rate is not None
    if ps.load and ps.load[-1][0] >= obs.observed_at:
        ps.load[-1] = (obs.observed_at, obs.request_rate)
    else:
        ps.load.append((obs.observed_at, obs.request_rate))
    keep = max(cfg.forecast_window_s, cfg.scale_down_stabilisation_s)
    ps.load = [s for s in ps.load if s[0] >= obs.observed_at - keep]
    if obs.ready > 0 and obs.ttft_p95_ms is not None and obs.request_rate and settled:
        # The window's latency may come from a busier minute just before it: charge it to that one.
        busiest = max(r for t, r in ps.load if t >= obs.observed_at - cfg.window_s)
        x = busiest / obs.ready
        ps.capacity_rps = update_capacity(
            ps.capacity_rps,
            prior,
            prior_rps,
            x,
            obs.ttft_p95_ms,
            cfg.slo_ttft_p95_ms,
            cfg.learning_rate_down,
            cfg.learning_rate_up,
        )
        p95 = obs.ttft_p95_ms
        if p95 > cfg.near_slo_share * cfg.slo_ttft_p95_ms:
            # This window needed at least the replicas it had. Over the SLO it needed more: the
            # replicas that would have put it at the SLO on the latency curve, and no fewer than
            # the latency feedback's step (the curve underestimates a window far over the SLO).
            need = float(obs.ready)
            if p95 > cfg.slo_ttft_p95_ms:
                step = obs.ready * min(1.5, math.sqrt(p95 / cfg.slo_ttft_p95_ms))
                need = max(need + 1.0, step)
                implied = implied_capacity(
                    x, p95, cfg.slo_ttft_p95_ms, prior.base_p95_ms, prior.utilisation_at_slo
                )
                if implied is not None:
                    need = max(need, busiest / max(implied, 0.1 * prior_rps))
            ps.needs.append((now, need, busiest))

def recent_load(ps: PoolState, since: float) -> list[tuple[float, float]]:
    """The load samples observed at or after ``since``."""
    return [s for s in ps.load if s[0] >= since]


def usable_capacity(ps: PoolState, cfg: PolicyConfig) -> float:
    """Requests/s per replica to plan with: the learned capacity at the target utilisation."""
    return (ps.capacity_rps or 1.0) * cfg.target_utilisation


def need_floor(ps: PoolState, cfg: PolicyConfig) -> int:
    """Fewest replicas the windows remembered in ``needs`` call for at today's load.

    A window near or over the SLO tells how many replicas *that* window needed, whatever
    made it hard (a burst inside the minute, a run of long prompts). Its need is kept for
    the memory, scaled down only when the peak load of the last stabilisation window is
    below the load it had, so that a fleet sized for a recurring burst is not sized for it
    again at every peak (the capacity alone would), and a quieter period lets it go.
    """
    if not ps.needs or not ps.load:
        return 0
    last = ps.load[-1][0]
    peak = max(r for _, r in recent_load(ps, last - cfg.scale_down_stabilisation_s))
    best = 0.0
    for _, need, rate in ps.needs:
        scale = 1.0 if rate <= 0.0 else min(1.0, peak / rate)
        best = max(best, need * scale)
    return math.ceil(best - 1e-9)

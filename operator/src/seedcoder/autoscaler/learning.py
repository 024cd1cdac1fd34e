"""What the policy learns from each fresh observation of a pool.

Why its own module: learning (the capacity estimate, the memory of SLO breaches,
the load history for the forecast) is state bookkeeping, separate from deciding;
the policy calls ``learn`` once per fresh observation, then plans with
``usable_capacity``.
"""

from __future__ import annotations

from seedcoder.autoscaler.capacity import implied_capacity, update_capacity
from seedcoder.autoscaler.models import PolicyConfig, PolicyPool, PoolObservation, PoolState
from seedcoder.autoscaler.priors import prior_for

_RECOVER_BELOW = 0.25
"""A p95 within this share of the room between the unloaded p95 and the SLO says little to the curve..."""
_RECOVER_MIN_LOAD = 0.6
"""...while each replica carries at least this share of the usable capacity (the fleet is busy)."""
_RECOVER_STEP = 0.03
"""Factor above 1 by which such an observation raises a capacity cut back toward the prior..."""
_PROVEN_AFTER_BREACH = 0.8
"""A first breach at x requests/s per replica proves no more than this share of x."""
_RECOVER_OVER_PROVEN = 1.1
"""...but never past this multiple of the highest load per replica seen within the SLO (explore, slowly)."""


def learn(ps: PoolState, pool: PolicyPool, obs: PoolObservation, now: float, cfg: PolicyConfig) -> None:
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
    ps.breaches = [b for b in ps.breaches if b[0] > now - cfg.breach_memory_s]
    assert obs.observed_at is not None
    assert obs.request_rate is not None
    if ps.load and ps.load[-1][0] >= obs.observed_at:
        ps.load[-1] = (obs.observed_at, obs.request_rate)
    else:
        ps.load.append((obs.observed_at, obs.request_rate))
    ps.load = [s for s in ps.load if s[0] >= obs.observed_at - cfg.forecast_window_s]
    if obs.ready > 0 and obs.ttft_p95_ms is not None and obs.request_rate and settled:
        # The window's latency may come from a busier minute just before it: charge it to that one.
        busiest = max(r for t, r in ps.load if t >= obs.observed_at - cfg.window_s)
        x = busiest / obs.ready
        if obs.ttft_p95_ms > cfg.slo_ttft_p95_ms and x >= ps.capacity_rps:
            # Load beyond what the estimate says a replica holds explains the breach (a backlog
            # while replicas start): the estimate was right, there is nothing to learn.
            return
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
        if obs.ttft_p95_ms > cfg.slo_ttft_p95_ms:
            ps.proven_rps = min(ps.proven_rps, x) if ps.proven_rps is not None else _PROVEN_AFTER_BREACH * x
            implied = implied_capacity(
                x, obs.ttft_p95_ms, cfg.slo_ttft_p95_ms, prior.base_p95_ms, prior.utilisation_at_slo
            )
            if implied is not None:
                ps.breaches.append((now, max(implied, 0.1 * prior_rps)))
        else:
            ps.proven_rps = max(ps.proven_rps or 0.0, x)
        if obs.ttft_p95_ms <= cfg.slo_ttft_p95_ms and obs.ttft_p95_ms < prior.base_p95_ms + _RECOVER_BELOW * (
            cfg.slo_ttft_p95_ms - prior.base_p95_ms
        ):
            _recover(ps, x, prior_rps, cfg)


def _recover(ps: PoolState, per_replica_rps: float, prior_rps: float, cfg: PolicyConfig) -> None:
    """Let a capacity cut (learned or remembered from a breach) creep back toward the prior.

    Why: once a breach has cut the estimate, the fleet sized from it runs so far below
    its capacity that p95 sits near the latency curve's base, which says little, so
    the cut would never be learned back. A p95 near the unloaded base while replicas
    carry a real share of the usable capacity is evidence the cut is too pessimistic;
    each such observation raises it a little. A new breach cuts it again.
    """
    if per_replica_rps < _RECOVER_MIN_LOAD * usable_capacity(ps, cfg):
        return
    step = 1.0 + _RECOVER_STEP
    ceiling = prior_rps
    if ps.proven_rps is not None:
        ceiling = min(ceiling, _RECOVER_OVER_PROVEN * ps.proven_rps / cfg.target_utilisation)
    if ps.capacity_rps is not None and ps.capacity_rps < ceiling:
        ps.capacity_rps = min(ceiling, ps.capacity_rps * step)
    ps.breaches = [(t, max(c, min(ceiling, c * step))) for t, c in ps.breaches]


def usable_capacity(ps: PoolState, cfg: PolicyConfig) -> float:
    """Requests/s per replica to plan with: the learned capacity at the target utilisation,
    capped by the lowest capacity that broke the SLO within the breach memory (already a worst case)."""
    cap = (ps.capacity_rps or 1.0) * cfg.target_utilisation
    return min([cap] + [b[1] for b in ps.breaches])

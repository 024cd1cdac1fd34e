"""The SLO autoscaling policy: observations in, desired replicas per pool out, with reasons.

Why: this is the one piece of scaling logic; the operator calls it from its timer
and the benchmark simulator calls the very same function. It combines what each
peer does well (see ``docs`` in the benchmark's README): a learned per-GPU capacity
at the SLO (``capacity.py``), a trend forecast one cold start ahead
(``forecast.py``), fast feedback on measured p95 TTFT and queue depth,
cost-aware placement across GPU kinds (``placement.py``), and slow, bounded
scale-down. Missing or stale metrics make a pool hold, never shrink.

The whole rule lives here, the operator's safety bounds included: the policy
decides at most once per ``interval_s`` (:func:`due`), a pool that scaled up
waits ``scale_up_cooldown_s`` before its next scale-up, and no decision adds
more than ``max_step_up`` replicas. The operator and the simulator therefore
run exactly the same rule.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from seedcoder.autoscaler.forecast import forecast, is_rising
from seedcoder.autoscaler.learning import learn, usable_capacity
from seedcoder.autoscaler.models import (
    Action,
    Cause,
    PolicyConfig,
    PolicyPool,
    PolicyResult,
    PolicyState,
    PoolDecision,
    PoolObservation,
    PoolState,
)
from seedcoder.autoscaler.placement import PoolCapacity, place
from seedcoder.autoscaler.priors import prior_for

_DUE_SLACK = 0.05
"""Share of ``interval_s`` a timer may fire early and still be due (timers jitter)."""


def due(state: PolicyState, now: float, config: PolicyConfig | None = None) -> bool:
    """Whether a call at ``now`` decides (callers may skip reading signals when it would not)."""
    cfg = config or PolicyConfig()
    last = state.last_decided_at
    return last is None or now - last >= cfg.interval_s * (1.0 - _DUE_SLACK) or now < last


def _staffed(replicas_of_load: float, cfg: PolicyConfig) -> int:
    """Replicas for a load worth ``replicas_of_load`` replicas, with square-root safety staffing.

    Why: bursts relative to the mean shrink as a fleet grows (a superposition of
    many users averages out), so a fixed utilisation target over-provisions big
    fleets and under-provisions small ones; ``R + beta*sqrt(R)`` (Halfin-Whitt)
    gives small fleets proportionally more headroom than big ones.
    """
    r = max(0.0, replicas_of_load)
    return math.ceil(r + cfg.staffing_beta * math.sqrt(r) - 1e-9)


def _clamp(n: int, pool: PolicyPool) -> int:
    return max(pool.min_replicas, min(pool.max_replicas, n))


def _problem(obs: PoolObservation | None, now: float, cfg: PolicyConfig) -> tuple[Cause, str] | None:
    if obs is None:
        return "MissingMetrics", "no observation of the pool"
    if obs.observed_at is None or obs.request_rate is None:
        return "MissingMetrics", "request rate missing"
    age = now - obs.observed_at
    if age > cfg.stale_after_s:
        return "StaleMetrics", f"metrics are {age:.0f}s old (limit {cfg.stale_after_s:.0f}s)"
    return None


def _pool_loads(
    pools: Sequence[PolicyPool],
    fresh: Mapping[str, PoolObservation],
    states: Mapping[str, PoolState],
    cfg: PolicyConfig,
) -> tuple[dict[str, float], dict[str, float]]:
    """(forecast load, current load) per fresh pool; across pools by cost when all are fresh."""
    horizon = cfg.cold_start_s + cfg.interval_s
    own_f = {p.name: forecast(states[p.name].load, horizon) or 0.0 for p in pools if p.name in fresh}
    own_now = {n: fresh[n].request_rate or 0.0 for n in own_f}
    if len(pools) < 2 or len(fresh) < len(pools):
        return own_f, own_now
    shares = [o.long_prompt_share for o in fresh.values() if o.long_prompt_share is not None]
    long_share = max(shares) if shares else cfg.long_prompt_share
    caps = [
        PoolCapacity(
            name=p.name,
            capacity_rps=usable_capacity(states[p.name], cfg),
            cost_per_hour_usd=p.cost_per_hour_usd,
            min_replicas=p.min_replicas,
            max_replicas=p.max_replicas,
            serves_long=prior_for(p.gpu, p.precision).servable_prompt_tokens(cfg.slo_ttft_p95_ms) >= 8192,
        )
        for p in pools
    ]
    total_f, total_now = sum(own_f.values()), sum(own_now.values())
    f_load = place(caps, total_f, long_share, cfg.staffing_beta).load
    n_load = place(caps, total_now, long_share, cfg.staffing_beta).load
    return f_load, n_load


def _decide_fresh(
    pool: PolicyPool,
    obs: PoolObservation,
    ps: PoolState,
    load_f: float,
    load_now: float,
    now: float,
    cfg: PolicyConfig,
) -> PoolDecision:
    current, slo = obs.replicas, cfg.slo_ttft_p95_ms
    usable = usable_capacity(ps, cfg)
    cap = usable / cfg.target_utilisation
    up_need = _staffed(load_f / usable, cfg)
    cause: Cause = "Forecast" if load_f > load_now * 1.02 else "Load"
    why = (
        f"load {load_now:.1f} req/s (forecast {load_f:.1f}), capacity {cap:.2f} req/s per replica at the SLO"
    )
    target = up_need
    p95 = obs.ttft_p95_ms
    queue_over = obs.queue_depth is not None and obs.queue_depth > cfg.queue_per_replica_limit * max(
        obs.ready, 1
    )
    persisting, ps.last_queue_over = ps.last_queue_over and queue_over, queue_over
    if persisting and obs.queue_depth is not None:
        q_need = math.ceil((load_now + obs.queue_depth / cfg.queue_drain_s) / usable)
        if q_need > target:
            target, cause = q_need, "QueueFeedback"
            why = f"{obs.queue_depth:.0f} requests waiting on {obs.ready} ready replicas"
    if p95 is not None and p95 > slo and obs.ready > 0:
        if obs.replicas > obs.ready:
            if target <= current:
                cause, why = (
                    "ScaleUpInFlight",
                    f"p95 TTFT {p95:.0f}ms > {slo:.0f}ms; waiting for starting replicas",
                )
        else:
            lat_need = max(current + 1, math.ceil(obs.ready * min(1.5, math.sqrt(p95 / slo))))
            if lat_need > target:
                target, cause = lat_need, "LatencyFeedback"
                why = f"p95 TTFT {p95:.0f}ms > SLO {slo:.0f}ms at {load_now:.1f} req/s"
    target = _clamp(target, pool)
    if target > current:
        ps.recommendations = [r for r in ps.recommendations if r[0] > now - cfg.scale_down_stabilisation_s]
        ps.recommendations.append((now, target))
        return PoolDecision(
            pool=pool.name,
            from_replicas=current,
            to_replicas=target,
            action="up",
            cause=cause,
            reason=f"Scaling up: {why}.",
            demand_rps=load_f,
            capacity_rps=cap,
        )
    down_need = _staffed(max(load_f, load_now) / (usable * (1.0 - cfg.scale_down_hysteresis)), cfg)
    rec = _clamp(max(down_need, target), pool)
    ps.recommendations.append((now, rec))
    ps.recommendations = [r for r in ps.recommendations if r[0] > now - cfg.scale_down_stabilisation_s]
    stabilised = max(r[1] for r in ps.recommendations)

    def hold(c: Cause, text: str) -> PoolDecision:
        return PoolDecision(
            pool=pool.name,
            from_replicas=current,
            to_replicas=current,
            action="hold",
            cause=c,
            reason=text,
            demand_rps=load_f,
            capacity_rps=cap,
        )

    if rec >= current:
        return hold(cause if cause in ("ScaleUpInFlight",) else "Steady", f"Holding {current}: {why}.")
    if ps.observing_since is None or now - ps.observing_since < cfg.scale_down_stabilisation_s:
        return hold(
            "Stabilising",
            f"Holding {current}: {rec} would do, but the policy has not yet watched this pool "
            f"for a whole stabilisation window ({cfg.scale_down_stabilisation_s:.0f}s).",
        )
    if stabilised >= current:
        return hold(
            "Stabilising",
            f"Holding {current}: {rec} would do, but the last "
            f"{cfg.scale_down_stabilisation_s:.0f}s asked for up to {stabilised}.",
        )
    if is_rising(ps.load):
        return hold("RisingLoad", f"Holding {current}: the load is rising ({why}).")
    if p95 is None and load_now > 0:
        return hold("MissingMetrics", f"Holding {current}: p95 TTFT is missing while requests arrive.")
    if p95 is not None and p95 > slo * 0.9:
        return hold("LatencyFeedback", f"Holding {current}: p95 TTFT {p95:.0f}ms is near the SLO.")
    if ps.last_down_at is not None and now - ps.last_down_at < cfg.scale_down_min_interval_s:
        return hold("StepLimit", f"Holding {current}: scaled down {now - ps.last_down_at:.0f}s ago.")
    step = max(1, math.floor(current * cfg.scale_down_step))
    to = _clamp(max(stabilised, current - step), pool)
    if to >= current:
        return hold("MinReplicas", f"Holding {current}: at the pool's minimum.")
    ps.last_down_at = now
    return PoolDecision(
        pool=pool.name,
        from_replicas=current,
        to_replicas=to,
        action="down",
        cause="Load",
        reason=f"Scaling down: {why}; {stabilised} needed over the stabilisation window.",
        demand_rps=load_f,
        capacity_rps=cap,
    )


def _hold_unobserved(
    pool: PolicyPool, obs: PoolObservation | None, ps: PoolState, problem: tuple[Cause, str]
) -> PoolDecision:
    current = (
        obs.replicas
        if obs is not None
        else (ps.last_ready if ps.last_ready is not None else pool.min_replicas)
    )
    to = _clamp(current, pool)
    cause, text = problem
    if to != current:
        cause = "MinReplicas" if to > current else "MaxReplicas"
    action = "up" if to > current else "down" if to < current else "hold"
    return PoolDecision(
        pool=pool.name,
        from_replicas=current,
        to_replicas=to,
        action=action,
        cause=cause,
        reason=f"Holding {to} ({text}); never scaling down on missing or stale metrics.",
        capacity_rps=ps.capacity_rps,
    )


def _bounded(pool: PolicyPool, d: PoolDecision) -> PoolDecision:
    """A hold outside the pool's bounds (the spec changed) becomes a move to the bound."""
    to = _clamp(d.to_replicas, pool)
    if to == d.to_replicas:
        return d
    cause: Cause = "MinReplicas" if to > d.to_replicas else "MaxReplicas"
    action: Action = "up" if to > d.from_replicas else "down" if to < d.from_replicas else "hold"
    return d.model_copy(
        update={
            "to_replicas": to,
            "cause": cause,
            "action": action,
            "reason": f"Clamped to {to} (min {pool.min_replicas}, max {pool.max_replicas}): {d.reason}",
        }
    )


def _bounded_up(d: PoolDecision, ps: PoolState, now: float, cfg: PolicyConfig) -> PoolDecision:
    """The scale-up safety bounds: the cooldown after a scale-up, then at most ``max_step_up`` at once."""
    if d.to_replicas <= d.from_replicas or d.cause == "MinReplicas":
        return d
    if ps.last_up_at is not None and 0.0 <= now - ps.last_up_at < cfg.scale_up_cooldown_s:
        left = cfg.scale_up_cooldown_s - (now - ps.last_up_at)
        return d.model_copy(
            update={
                "to_replicas": d.from_replicas,
                "action": "hold",
                "cause": "UpCooldown",
                "reason": f"Holding {d.from_replicas}: scale-up cooldown, {left:.0f}s left "
                f"(wanted {d.to_replicas}: {d.reason})",
            }
        )
    ps.last_up_at = now
    cap = d.from_replicas + cfg.max_step_up
    if d.to_replicas <= cap:
        return d
    return d.model_copy(
        update={
            "to_replicas": cap,
            "cause": "StepLimit",
            "reason": f"{d.reason} Step bounded to +{cfg.max_step_up} (wanted {d.to_replicas}).",
        }
    )


def _not_due(
    pools: Sequence[PolicyPool], observations: Mapping[str, PoolObservation], state: PolicyState
) -> PolicyResult:
    desired = {}
    for pool in pools:
        obs = observations.get(pool.name)
        desired[pool.name] = obs.replicas if obs is not None else pool.min_replicas
    return PolicyResult(desired=desired, decisions=[], state=state, decided=False)


def decide(
    pools: Sequence[PolicyPool],
    observations: Mapping[str, PoolObservation],
    state: PolicyState,
    now: float,
    config: PolicyConfig | None = None,
) -> PolicyResult:
    """Desired replicas for every pool in ``pools``.

    Pure: ``state`` is not modified; the new state is in the result. A call
    sooner than ``interval_s`` after the last decision decides nothing
    (``PolicyResult.decided`` is false).
    """
    cfg = config or PolicyConfig()
    if not due(state, now, cfg):
        return _not_due(pools, observations, state)
    new = PolicyState(
        pools={
            p.name: state.pools[p.name].model_copy(deep=True) if p.name in state.pools else PoolState()
            for p in pools
        },
        last_decided_at=now,
    )
    fresh: dict[str, PoolObservation] = {}
    problems: dict[str, tuple[Cause, str]] = {}
    for pool in pools:
        obs = observations.get(pool.name)
        problem = _problem(obs, now, cfg)
        ps = new.pools[pool.name]
        if ps.capacity_rps is None:
            ps.capacity_rps = prior_for(pool.gpu, pool.precision).rps_for_slo(cfg.slo_ttft_p95_ms)
        if problem is not None or obs is None:
            problems[pool.name] = problem or ("MissingMetrics", "no observation")
        else:
            learn(ps, pool, obs, now, cfg)
            fresh[pool.name] = obs
    loads_f, loads_now = _pool_loads(pools, fresh, new.pools, cfg)
    decisions: list[PoolDecision] = []
    for pool in pools:
        ps = new.pools[pool.name]
        if pool.name in fresh:
            d = _bounded(
                pool,
                _decide_fresh(pool, fresh[pool.name], ps, loads_f[pool.name], loads_now[pool.name], now, cfg),
            )
            d = _bounded_up(d, ps, now, cfg)
        else:
            d = _hold_unobserved(pool, observations.get(pool.name), ps, problems[pool.name])
        decisions.append(d.model_copy(update={"decided_at": now}))
    return PolicyResult(desired={d.pool: d.to_replicas for d in decisions}, decisions=decisions, state=new)

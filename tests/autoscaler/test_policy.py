"""Unit tests of the SLO policy: each behaviour on a hand-made observation."""

from __future__ import annotations

import json

import pytest
from seedcoder.autoscaler import PolicyConfig, PolicyPool, PolicyState, PoolObservation, decide, prior_for
from seedcoder.autoscaler.forecast import forecast, is_rising
from seedcoder.autoscaler.placement import PoolCapacity, place

from tests.autoscaler.plant import run_loop

H100 = PolicyPool(
    name="h100", gpu="H100", precision="fp8", min_replicas=1, max_replicas=20, cost_per_hour_usd=6.88
)
A100 = PolicyPool(
    name="a100", gpu="A100", precision="bf16", min_replicas=0, max_replicas=20, cost_per_hour_usd=4.10
)
CFG = PolicyConfig()
NOW = 10_000.0


def obs(**kw: float | int | None) -> PoolObservation:
    base: dict[str, float | int | None] = {
        "replicas": 4,
        "ready": 4,
        "observed_at": NOW - 10,
        "request_rate": 40.0,
        "ttft_p95_ms": 200.0,
        "queue_depth": 0.0,
    }
    base.update(kw)
    return PoolObservation.model_validate(base)


def test_scales_up_to_load_over_capacity() -> None:
    res = decide([H100], {"h100": obs(request_rate=100.0)}, PolicyState(), NOW, CFG)
    cap = prior_for("H100", "fp8").rps_at_slo * CFG.target_utilisation
    assert res.desired["h100"] >= int(100.0 / cap)
    assert res.decisions[0].action == "up"
    assert "req/s" in res.decisions[0].reason


def test_stale_metrics_hold_and_say_why() -> None:
    res = decide([H100], {"h100": obs(request_rate=0.0, observed_at=NOW - 600)}, PolicyState(), NOW, CFG)
    assert res.desired["h100"] == 4
    assert res.decisions[0].cause == "StaleMetrics"
    assert "stale" in res.decisions[0].reason or "old" in res.decisions[0].reason


def test_missing_rate_holds_and_missing_pool_keeps_min() -> None:
    res = decide([H100], {"h100": obs(request_rate=None)}, PolicyState(), NOW, CFG)
    assert res.desired["h100"] == 4
    assert res.decisions[0].cause == "MissingMetrics"
    res = decide([H100], {}, PolicyState(), NOW, CFG)
    assert res.desired["h100"] == H100.min_replicas


def test_missing_metrics_never_scale_to_zero() -> None:
    pool = H100.model_copy(update={"min_replicas": 0})
    res = decide(
        [pool],
        {"h100": obs(replicas=3, ready=3, observed_at=None, request_rate=None)},
        PolicyState(),
        NOW,
        CFG,
    )
    assert res.desired["h100"] == 3


def test_clamps_to_bounds() -> None:
    res = decide([H100], {"h100": obs(request_rate=10_000.0)}, PolicyState(), NOW, CFG)
    assert res.desired["h100"] == H100.max_replicas
    res = decide(
        [H100],
        {"h100": obs(replicas=0, ready=0, request_rate=0.0, ttft_p95_ms=None)},
        PolicyState(),
        NOW,
        CFG,
    )
    assert res.desired["h100"] == H100.min_replicas


def test_scale_down_waits_for_the_stabilisation_window() -> None:
    state = PolicyState()
    first = decide([H100], {"h100": obs(replicas=10, ready=10, request_rate=100.0)}, state, NOW, CFG)
    assert first.desired["h100"] == 10
    later = decide(
        [H100],
        {"h100": obs(replicas=10, ready=10, request_rate=5.0, observed_at=NOW + 50)},
        first.state,
        NOW + 60,
        CFG,
    )
    assert later.desired["h100"] == 10
    assert later.decisions[0].cause in ("Stabilising", "RisingLoad")


def test_scale_down_is_bounded_per_step() -> None:
    state = PolicyState()
    t = NOW
    replicas = 20
    for _ in range(40):
        res = decide(
            [H100.model_copy(update={"max_replicas": 30})],
            {
                "h100": obs(
                    replicas=replicas, ready=replicas, request_rate=5.0, observed_at=t - 10, ttft_p95_ms=160.0
                )
            },
            state,
            t,
            CFG,
        )
        new = res.desired["h100"]
        assert replicas - new <= max(1, int(replicas * CFG.scale_down_step))
        replicas, state, t = new, res.state, t + CFG.interval_s
    assert replicas < 20


def test_latency_feedback_adds_a_replica_when_the_model_says_enough() -> None:
    res = decide([H100], {"h100": obs(request_rate=4.0, ttft_p95_ms=900.0)}, PolicyState(), NOW, CFG)
    assert res.desired["h100"] > 4
    assert res.decisions[0].cause == "LatencyFeedback"


def test_persistent_queue_triggers_queue_feedback() -> None:
    state = PolicyState()
    r1 = decide([H100], {"h100": obs(request_rate=20.0, queue_depth=2000.0)}, state, NOW, CFG)
    r2 = decide(
        [H100],
        {
            "h100": obs(
                replicas=r1.desired["h100"], request_rate=20.0, queue_depth=2000.0, observed_at=NOW + 5
            )
        },
        r1.state,
        NOW + 15,
        CFG,
    )
    assert r2.desired["h100"] > 4
    assert "QueueFeedback" in (r1.decisions[0].cause, r2.decisions[0].cause)


def test_state_is_plain_json_and_input_state_is_untouched() -> None:
    state = PolicyState()
    res = decide([H100], {"h100": obs()}, state, NOW, CFG)
    assert state.pools == {}
    again = PolicyState.model_validate(json.loads(res.state.model_dump_json()))
    assert again == res.state


def test_forecast_extrapolates_ramps_only() -> None:
    ramp = [(float(t), 10.0 + 0.1 * t) for t in range(0, 180, 15)]
    assert forecast(ramp, 120.0) is not None
    assert forecast(ramp, 120.0) > ramp[-1][1]  # type: ignore[operator]
    assert is_rising(ramp)
    falling = [(t, 100.0 - y) for t, y in ramp]
    assert forecast(falling, 120.0) == falling[-1][1]
    assert not is_rising(falling)


def test_placement_prefers_cheapest_per_request_and_routes_long_prompts_to_h100() -> None:
    pools = [PoolCapacity("h100", 12.0, 6.88, 0, 10, True), PoolCapacity("a100", 5.0, 4.10, 0, 10, False)]
    # per request: h100 6.88/12 = 0.57, a100 4.10/5 = 0.82 -> h100 first
    p = place(pools, 60.0, long_share=0.3)
    assert p.load["h100"] == 60.0
    cheap_a100 = [
        PoolCapacity("h100", 12.0, 6.88, 0, 10, True),
        PoolCapacity("a100", 10.0, 2.0, 0, 10, False),
    ]
    p = place(cheap_a100, 60.0, long_share=0.3)
    assert p.load["h100"] >= 18.0 - 1e-9  # the long share stays on H100
    assert p.load["a100"] == 42.0
    p = place(cheap_a100, 1000.0, long_share=0.3)
    assert p.unplaced_rps > 0


def test_two_pools_use_the_cheaper_pool_for_short_prompts() -> None:
    cheap = A100.model_copy(update={"cost_per_hour_usd": 1.0})
    res = decide(
        [H100, cheap],
        {"h100": obs(request_rate=30.0), "a100": obs(request_rate=30.0)},
        PolicyState(),
        NOW,
        CFG.model_copy(update={"long_prompt_share": 0.2}),
    )
    assert res.desired["a100"] > 0
    assert res.desired["h100"] >= 1


def test_converges_on_a_steady_load() -> None:
    replicas, _ = run_loop(H100, [60.0] * 200, true_capacity=10.0, cfg=CFG)
    tail = replicas[-60:]
    assert max(tail) == min(tail)
    assert 60.0 / tail[0] <= 10.0


def test_capacity_cut_recovers_only_on_busy_comfortable_windows() -> None:
    from seedcoder.autoscaler.learning import learn, usable_capacity
    from seedcoder.autoscaler.models import PoolState

    prior_rps = prior_for("H100", "fp8").rps_for_slo(CFG.slo_ttft_p95_ms)

    def feed(rate: float, p95: float, n: int) -> PoolState:
        ps = PoolState(capacity_rps=3.0, breaches=[(NOW, 2.5)], ready_since=0.0, last_ready=10)
        for i in range(n):
            t = NOW + i * CFG.interval_s
            o = obs(replicas=10, ready=10, observed_at=t, request_rate=rate, ttft_p95_ms=p95)
            learn(ps, H100, o, t, CFG)
        return ps

    busy_fast = feed(25.0, 120.0, 20)  # 2.5 req/s per replica, p95 under the unloaded base
    assert busy_fast.capacity_rps is not None
    assert 3.0 < busy_fast.capacity_rps <= prior_rps
    assert usable_capacity(busy_fast, CFG) > 2.5
    idle = feed(5.0, 120.0, 20)  # too little load to say anything
    assert idle.capacity_rps == 3.0
    assert usable_capacity(idle, CFG) == 2.5
    mid = feed(25.0, 250.0, 20)  # p95 on the curve: ordinary learning, no recovery of the breach
    assert usable_capacity(mid, CFG) == 2.5
    long_run = feed(25.0, 120.0, 400)  # stops once the load no longer tests the estimate
    assert long_run.capacity_rps is not None
    assert long_run.capacity_rps < prior_rps / 2
    assert feed(25.0, 120.0, 800).capacity_rps == long_run.capacity_rps
    # Never beyond a margin over the busiest load seen inside the SLO, nor beyond the prior.
    proven = feed(80.0, 120.0, 400)
    assert proven.capacity_rps == pytest.approx(min(prior_rps, 1.1 * 8.0 / CFG.target_utilisation))
    busier = feed(200.0, 120.0, 400)
    assert busier.capacity_rps == prior_rps


def test_decides_once_per_interval_and_a_call_between_changes_nothing() -> None:
    first = decide([H100], {"h100": obs(request_rate=100.0)}, PolicyState(), NOW, CFG)
    assert first.decided
    assert first.state.last_decided_at == NOW
    soon = decide([H100], {"h100": obs(request_rate=300.0)}, first.state, NOW + CFG.interval_s / 2, CFG)
    assert not soon.decided
    assert soon.decisions == []
    assert soon.state == first.state
    assert soon.desired == {"h100": 4}
    later = decide([H100], {"h100": obs(request_rate=300.0)}, first.state, NOW + CFG.interval_s, CFG)
    assert later.decided


def test_scale_up_cooldown_holds_the_next_scale_up() -> None:
    cfg = CFG.model_copy(update={"scale_up_cooldown_s": 120.0})
    first = decide([H100], {"h100": obs(request_rate=100.0)}, PolicyState(), NOW, cfg)
    assert first.decisions[0].action == "up"
    n = first.desired["h100"]
    t = NOW + cfg.interval_s
    held = decide(
        [H100], {"h100": obs(replicas=n, request_rate=250.0, observed_at=t - 10)}, first.state, t, cfg
    )
    assert held.desired["h100"] == n
    assert held.decisions[0].cause == "UpCooldown"
    assert "cooldown" in held.decisions[0].reason
    t = NOW + 120.0
    free = decide(
        [H100], {"h100": obs(replicas=n, request_rate=250.0, observed_at=t - 10)}, held.state, t, cfg
    )
    assert free.desired["h100"] > n


def test_a_scale_up_adds_at_most_max_step_up() -> None:
    pool = H100.model_copy(update={"max_replicas": 64})
    cfg = CFG.model_copy(update={"max_step_up": 3})
    res = decide([pool], {"h100": obs(request_rate=600.0)}, PolicyState(), NOW, cfg)
    assert res.desired["h100"] == 4 + 3
    assert res.decisions[0].cause == "StepLimit"
    assert res.changes == res.decisions

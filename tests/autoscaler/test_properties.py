"""Property tests of the SLO policy (hypothesis): bounds, rising loads, stale metrics, steady loads."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st
from seedcoder.autoscaler import PolicyConfig, PolicyPool, PolicyState, PoolObservation, decide

from tests.autoscaler.plant import run_loop

CFG = PolicyConfig()

pools = st.builds(
    lambda lo, span, gpu: PolicyPool(
        name="p", gpu=gpu, min_replicas=lo, max_replicas=lo + span, cost_per_hour_usd=3.0
    ),
    st.integers(0, 8),
    st.integers(0, 30),
    st.sampled_from(["H100", "A100", "L40S", "CPU", "B200"]),
)
maybe = st.one_of(st.none(), st.floats(0, 5000, allow_nan=False))
observations = st.builds(
    lambda r, rd, age, rate, p95, q: PoolObservation(
        replicas=r,
        ready=min(r, rd),
        observed_at=None if age is None else 10_000.0 - age,
        request_rate=rate,
        ttft_p95_ms=p95,
        queue_depth=q,
    ),
    st.integers(0, 60),
    st.integers(0, 60),
    st.one_of(st.none(), st.floats(0, 1000)),
    maybe,
    maybe,
    maybe,
)


@settings(max_examples=300, deadline=None)
@given(pool=pools, seq=st.lists(observations, min_size=1, max_size=12))
def test_desired_is_always_within_min_and_max(pool: PolicyPool, seq: list[PoolObservation]) -> None:
    state = PolicyState()
    for i, o in enumerate(seq):
        res = decide([pool], {"p": o}, state, 10_000.0 + 15 * i, CFG)
        assert pool.min_replicas <= res.desired["p"] <= pool.max_replicas
        state = res.state


@settings(max_examples=200, deadline=None)
@given(pool=pools, o=observations, age=st.floats(CFG.stale_after_s + 1, 1e6))
def test_never_acts_on_stale_metrics(pool: PolicyPool, o: PoolObservation, age: float) -> None:
    now = 50_000.0
    stale = o.model_copy(update={"observed_at": now - age})
    res = decide([pool], {"p": stale}, PolicyState(), now, CFG)
    clamped = max(pool.min_replicas, min(pool.max_replicas, o.replicas))
    assert res.desired["p"] == clamped
    assert res.decisions[0].cause in ("StaleMetrics", "MissingMetrics", "MinReplicas", "MaxReplicas")


@settings(max_examples=100, deadline=None)
@given(pool=pools, o=observations)
def test_missing_metrics_never_scale_down(pool: PolicyPool, o: PoolObservation) -> None:
    missing = o.model_copy(update={"request_rate": None})
    res = decide([pool], {"p": missing}, PolicyState(), 10_000.0, CFG)
    assert res.desired["p"] >= min(max(o.replicas, pool.min_replicas), pool.max_replicas)


@settings(max_examples=100, deadline=None)
@given(
    start=st.floats(1, 50),
    growth=st.floats(0.01, 3),
    steps=st.integers(5, 60),
    cap=st.floats(3, 20),
    p95s=st.lists(st.floats(50, 2000), min_size=60, max_size=60),
    r0=st.integers(1, 40),
)
def test_never_scales_down_during_a_rising_load(
    start: float, growth: float, steps: int, cap: float, p95s: list[float], r0: int
) -> None:
    pool = PolicyPool(name="p", gpu="H100", min_replicas=1, max_replicas=64, cost_per_hour_usd=6.88)
    state = PolicyState()
    replicas = r0
    for i in range(steps):
        now = 10_000.0 + 15.0 * i
        o = PoolObservation(
            replicas=replicas,
            ready=replicas,
            observed_at=now - 10,
            request_rate=start + growth * i,
            ttft_p95_ms=p95s[i],
            queue_depth=0.0,
        )
        res = decide([pool], {"p": o}, state, now, CFG)
        assert res.desired["p"] >= replicas, res.decisions[0].reason
        replicas, state = res.desired["p"], res.state


@settings(max_examples=40, deadline=None)
@given(rate=st.floats(5, 300), cap=st.floats(4, 20), r0=st.integers(1, 40))
def test_converges_on_a_steady_load_without_oscillating(rate: float, cap: float, r0: int) -> None:
    pool = PolicyPool(name="p", gpu="H100", min_replicas=1, max_replicas=64, cost_per_hour_usd=6.88)
    replicas, _ = run_loop(pool, [rate] * 400, true_capacity=cap, cfg=CFG, start_replicas=r0)
    tail = replicas[-80:]  # the last 20 minutes
    assert max(tail) == min(tail), tail
    changes = sum(1 for a, b in pairwise(replicas[200:]) if a != b)
    assert changes <= 1
    n = tail[-1]
    assert n == 64 or rate / n <= cap  # meets the SLO (unless capped by max)

"""The operator's autoscale round: signals in, policy, replicas written as seedcoder-autoscaler."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from seedcoder.api.resource import SeedCoderDeployment
from seedcoder.operator import hooks
from seedcoder.operator.autoscaling.scaling import PolicyStore, autoscale, policy_config, policy_pools
from seedcoder.operator.autoscaling.signals import PoolSignals
from seedcoder.operator.settings import AUTOSCALER_FIELD_MANAGER, OperatorSettings

from tests.operator.sample import sample


class FakeKube:
    def __init__(self) -> None:
        self.applied: list[tuple[dict[str, Any], str, bool]] = []

    async def apply(
        self, obj: dict[str, Any], manager: str, *, subresource: str | None = None, force: bool = True
    ) -> dict[str, Any]:
        self.applied.append((obj, manager, force))
        return obj

    async def list(self, kind: str, namespace: str, selector: str | None = None) -> list[dict[str, Any]]:
        return []


class Signals:
    def __init__(self, by_pool: dict[str, PoolSignals]) -> None:
        self.by_pool = by_pool

    async def read(self, pools: list[str], now: float) -> dict[str, PoolSignals]:
        return {p: self.by_pool.get(p, PoolSignals()) for p in pools}


def resource() -> SeedCoderDeployment:
    body = sample(autoscaling={"mode": "slo"})
    body["metadata"]["uid"] = "uid-1"
    return SeedCoderDeployment.parse(body)


def pools(h100: int = 1, a100: int = 1, serving_a100: bool = True) -> list[hooks.ScalablePool]:
    return [
        hooks.ScalablePool("h100", "H100", "ml", "completions-triton-h100", h100, h100, 1, 4, True),
        hooks.ScalablePool("a100", "A100", "ml", "completions-triton-a100", a100, a100, 1, 2, serving_a100),
    ]


NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


async def test_scales_up_and_writes_replicas_as_the_autoscaler() -> None:
    kube = FakeKube()
    t = NOW.timestamp()
    sig = Signals(
        {"h100": PoolSignals(t - 5, 40.0, 450.0, 10.0, 0.0), "a100": PoolSignals(t - 5, 2.0, 150.0)}
    )
    out = await autoscale(
        kube,
        resource(),
        pools(),
        NOW,
        OperatorSettings(),
        signals=sig,  # type: ignore[arg-type]
        store=PolicyStore(),
    )
    assert out.desired["h100"] > 1
    assert [d.pool for d in out.decisions] == ["h100"]
    d = out.decisions[0]
    assert (d.from_replicas, d.to_replicas, d.decided_at) == (1, out.desired["h100"], NOW.timestamp())
    assert d.action == "up"
    assert d.reason
    body, manager, force = kube.applied[0]
    assert manager == AUTOSCALER_FIELD_MANAGER == "seedcoder-autoscaler"
    assert force
    assert body["metadata"] == {"name": "completions-triton-h100", "namespace": "ml"}
    assert body["spec"] == {"replicas": out.desired["h100"]}
    assert out.slo is not None
    assert out.slo.ttft_p95_ms == 450.0
    assert not out.slo.met


async def test_missing_signals_hold_and_write_nothing() -> None:
    kube = FakeKube()
    out = await autoscale(
        kube,
        resource(),
        pools(h100=3),
        NOW,
        OperatorSettings(),  # type: ignore[arg-type]
        signals=Signals({}),
        store=PolicyStore(),
    )
    assert out.desired == {"h100": 3, "a100": 1}
    assert out.decisions == []
    assert kube.applied == []
    assert out.slo is None


async def test_state_is_kept_between_rounds_and_pools_not_serving_are_skipped() -> None:
    kube, store = FakeKube(), PolicyStore()
    t = NOW.timestamp()
    sig = Signals({"h100": PoolSignals(t - 5, 5.0, 200.0)})
    await autoscale(
        kube,
        resource(),
        pools(serving_a100=False),
        NOW,
        OperatorSettings(),  # type: ignore[arg-type]
        signals=sig,
        store=store,
    )
    assert "uid-1" in store.states
    assert set(store.states["uid-1"].pools) == {"h100"}
    specs = policy_pools(resource(), pools())
    assert [(s.gpu, s.precision) for s in specs] == [("H100", "fp8"), ("A100", "bf16")]
    assert specs[0].cost_per_hour_usd > specs[1].cost_per_hour_usd


async def test_interval_cooldown_and_step_come_from_the_spec_through_the_policy() -> None:
    body = sample(autoscaling={"mode": "slo", "scaleUpCooldownSeconds": 600, "maxStepUp": 2})
    body["metadata"]["uid"] = "uid-2"
    res = SeedCoderDeployment.parse(body)
    cfg = policy_config(res, OperatorSettings())
    assert (cfg.scale_up_cooldown_s, cfg.max_step_up) == (600.0, 2)
    assert cfg.interval_s == max(OperatorSettings().resync_seconds, 15.0)
    kube, store = FakeKube(), PolicyStore()
    t = NOW.timestamp()
    hot = Signals({"h100": PoolSignals(t - 5, 200.0, 900.0, 10.0, 0.0)})
    out = await autoscale(kube, res, pools(), NOW, OperatorSettings(), signals=hot, store=store)  # type: ignore[arg-type]
    assert [(d.from_replicas, d.to_replicas) for d in out.decisions] == [(1, 3)]
    assert out.decisions[0].cause == "StepLimit"
    # The next timer tick inside the interval reads nothing and writes nothing.
    soon = NOW + timedelta(seconds=1)
    out = await autoscale(kube, res, pools(h100=3), soon, OperatorSettings(), signals=hot, store=store)  # type: ignore[arg-type]
    assert out == hooks.ScalingOutcome()
    # After the interval, the cooldown holds the scale-up.
    later = NOW + timedelta(seconds=cfg.interval_s)
    out = await autoscale(kube, res, pools(h100=3), later, OperatorSettings(), signals=hot, store=store)  # type: ignore[arg-type]
    assert out.decisions == []
    assert out.desired["h100"] == 3
    assert len(kube.applied) == 1

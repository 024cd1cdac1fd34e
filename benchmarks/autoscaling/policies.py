"""The policies the benchmark compares: ours (the operator's code) and the peers' control laws.

Why: a claim that our policy is cheaper at the same SLO only means something
against what people run today, implemented faithfully and fed the same signals
(see the table in the design notes): Kubernetes HPA on GPU utilisation, on
in-flight requests, KEDA on queue depth, Knative's KPA, and a Dynamo-style
predictive planner. ``seedcoder`` calls ``seedcoder.autoscaler.decide``: the
same function the operator calls, never a copy, configured by the operator's
own ``policy_config_for`` from the resource's default spec, and called on the
operator's timer period (``OperatorSettings().resync_seconds``); the interval,
the scale-up cooldown and the step bound are inside ``decide``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from seedcoder.api.spec import AutoscalingSpec, SloSpec
from seedcoder.autoscaler import PolicyPool, PolicyState, PoolObservation, decide, prior_for
from seedcoder.operator.autoscaling.scaling import policy_config_for
from seedcoder.operator.settings import OperatorSettings

from benchmarks.autoscaling.fleet import Fleet, PoolConfig

METRICS_LAG_S = 10.0
"""Scrape plus query delay of windowed Prometheus metrics (rates, p95)."""
WINDOW_S = 60.0


class SeedcoderPolicy:
    """Adapter: the fleet's metrics become the operator's observations; decisions become replicas."""

    def __init__(self, pools: list[PoolConfig], slo_ms: float, name: str = "seedcoder") -> None:
        self.name = name
        self.interval_s = OperatorSettings().resync_seconds
        """The operator's timer period: the policy is offered every tick and gates itself."""
        self.specs = [
            PolicyPool(
                name=p.name,
                gpu=p.profile.gpu,
                precision=p.profile.precision,
                min_replicas=p.min_replicas,
                max_replicas=p.max_replicas,
                cost_per_hour_usd=p.cost_per_hour_usd,
            )
            for p in pools
        ]
        self.cfg = policy_config_for(SloSpec(ttft_p95_ms=round(slo_ms)), AutoscalingSpec(), self.interval_s)
        self.state = PolicyState()
        self.decisions = 0

    def __call__(self, fleet: Fleet, now: float) -> None:
        obs = {}
        for spec in self.specs:
            p = spec.name
            q = fleet.ttft_quantile(p, 0.95, WINDOW_S, METRICS_LAG_S)
            obs[p] = PoolObservation(
                replicas=len(fleet.active(p)),
                ready=len(fleet.routable[p]),
                observed_at=now - METRICS_LAG_S,
                request_rate=fleet.rate(p, WINDOW_S, METRICS_LAG_S),
                ttft_p95_ms=None if q is None else q * 1000.0,
                queue_depth=float(fleet.waiting(p)),
                inflight=float(fleet.inflight(p)),
            )
        result = decide(self.specs, obs, self.state, now, self.cfg)
        self.state = result.state
        for d in result.changes:
            fleet.set_replicas(d.pool, d.to_replicas, now)


@dataclass
class _Hpa:
    """Kubernetes HPA v2 control law on one per-pod metric (tolerance, stabilisation, rate limits)."""

    name: str
    target: float
    interval_s: float = 15.0
    tolerance: float = 0.1
    down_window_s: float = 300.0
    history: dict[str, deque[tuple[float, int]]] = field(default_factory=dict)

    def total(self, fleet: Fleet, pool: str, now: float) -> float:
        raise NotImplementedError

    def __call__(self, fleet: Fleet, now: float) -> None:
        for pool in fleet.pools:
            current, ready = len(fleet.active(pool)), len(fleet.routable[pool])
            total = self.total(fleet, pool, now)
            if ready == 0:
                continue
            ratio = total / (ready * self.target)
            desired = current if abs(ratio - 1.0) <= self.tolerance else math.ceil(total / self.target)
            if desired < current and ready < current:
                desired = current  # unready pods: HPA does not scale down on partial data
            desired = min(desired, max(2 * current, current + 4))
            hist = self.history.setdefault(pool, deque())
            hist.append((now, desired))
            while hist and hist[0][0] < now - self.down_window_s:
                hist.popleft()
            if desired < current:
                desired = min(current, max(d for _, d in hist))
            fleet.set_replicas(pool, desired, now)


@dataclass
class HpaGpuUtil(_Hpa):
    """HPA on DCGM GPU utilisation (a duty cycle), target 70 %."""

    last: dict[int, tuple[float, float]] = field(default_factory=dict)

    def total(self, fleet: Fleet, pool: str, now: float) -> float:
        total = 0.0
        for rid, busy in fleet.busy_seconds(pool).items():
            t0, b0 = self.last.get(rid, (now - self.interval_s, busy))
            total += min(1.0, (busy - b0) / max(now - t0, 1e-9))
            self.last[rid] = (now, busy)
        return total


@dataclass
class HpaQueue(_Hpa):
    """KEDA ScaledObject on the waiting-request gauge (AverageValue per pod), 30 s polling."""

    def total(self, fleet: Fleet, pool: str, now: float) -> float:
        return float(fleet.waiting(pool))


@dataclass
class HpaInflight(_Hpa):
    """HPA on in-flight requests per pod."""

    def total(self, fleet: Fleet, pool: str, now: float) -> float:
        return float(fleet.inflight(pool))


@dataclass
class Kpa:
    """Knative KPA: concurrency per pod at 70 % of target, 60 s stable and 6 s panic windows."""

    name: str = "knative-kpa"
    target: float = 10.0
    utilisation: float = 0.7
    interval_s: float = 2.0
    stable_s: float = 60.0
    panic_s: float = 6.0
    samples: dict[str, deque[tuple[float, float]]] = field(default_factory=dict)
    panic_until: dict[str, float] = field(default_factory=dict)

    def __call__(self, fleet: Fleet, now: float) -> None:
        per_pod = self.target * self.utilisation
        for pool in fleet.pools:
            s = self.samples.setdefault(pool, deque())
            s.append((now, float(fleet.inflight(pool))))
            while s and s[0][0] < now - self.stable_s:
                s.popleft()
            stable = sum(v for _, v in s) / len(s)
            recent = [v for t, v in s if t >= now - self.panic_s]
            panic = sum(recent) / len(recent)
            current, ready = len(fleet.active(pool)), max(1, len(fleet.routable[pool]))
            d_stable, d_panic = math.ceil(stable / per_pod), math.ceil(panic / per_pod)
            if d_panic / ready >= 2.0:
                self.panic_until[pool] = now + self.stable_s
            if now < self.panic_until.get(pool, -1.0):
                desired = max(current, d_panic, d_stable)
            else:
                desired = max(d_stable, math.ceil(current / 2))
            fleet.set_replicas(pool, desired, now)


@dataclass
class DynamoPlanner:
    """Dynamo-style SLA planner: forecast the next interval's rate, divide by the profiled rate at the SLO.

    Forecast: Holt double exponential smoothing of interval means (the ARIMA(0,2,2)
    equivalent); capacity: the same per-GPU prior our policy starts from (Dynamo
    profiles it offline); correction: scaled up by observed p95 / SLO when above it.
    """

    interval_s: float
    slo_ms: float
    name: str = "dynamo"
    level: dict[str, float] = field(default_factory=dict)
    slope: dict[str, float] = field(default_factory=dict)

    def __call__(self, fleet: Fleet, now: float) -> None:
        if now == 0.0:
            return
        for pool, cfg in fleet.pools.items():
            y = fleet.rate(pool, self.interval_s, METRICS_LAG_S)
            lv, sl = self.level.get(pool), self.slope.get(pool, 0.0)
            if lv is None:
                lv, sl = y, 0.0
            else:
                new_lv = 0.5 * y + 0.5 * (lv + sl)
                sl = 0.3 * (new_lv - lv) + 0.7 * sl
                lv = new_lv
            self.level[pool], self.slope[pool] = lv, sl
            pred = max(0.0, lv + sl)
            q = fleet.ttft_quantile(pool, 0.95, WINDOW_S, METRICS_LAG_S)
            corr = 1.0 if q is None else min(2.0, max(1.0, q * 1000.0 / self.slo_ms))
            cap = prior_for(cfg.profile.gpu, cfg.profile.precision).rps_for_slo(self.slo_ms)
            fleet.set_replicas(pool, max(cfg.min_replicas, math.ceil(pred * corr / cap)), now)


@dataclass
class Scheduled:
    """Follows a replica schedule per pool (the oracle, and the static baselines)."""

    name: str
    want: dict[str, list[int]]
    """Replicas needed in each scoring window, per pool."""
    window_s: float
    cold_start_s: float
    interval_s: float = 5.0

    def __call__(self, fleet: Fleet, now: float) -> None:
        k0 = int(now // self.window_s)
        k1 = int((now + self.cold_start_s + self.interval_s) // self.window_s)
        for pool, want in self.want.items():
            ks = range(k0, min(k1, len(want) - 1) + 1)
            fleet.set_replicas(pool, max((want[k] for k in ks), default=want[-1]), now)


def baselines(pools: list[PoolConfig], slo_ms: float) -> list[object]:
    """The dynamic baselines (static and oracle policies are built from the oracle's schedule)."""
    return [
        HpaGpuUtil(name="hpa-gpu-util", target=0.7),
        HpaQueue(name="keda-queue", target=3.0, interval_s=30.0),
        HpaInflight(name="hpa-inflight", target=8.0),
        Kpa(),
        DynamoPlanner(interval_s=180.0, slo_ms=slo_ms, name="dynamo-180s"),
        DynamoPlanner(interval_s=60.0, slo_ms=slo_ms, name="dynamo-60s"),
    ]

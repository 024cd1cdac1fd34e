"""A fake serving fleet for policy tests: p95 TTFT from the queueing curve the policy assumes.

Why: property tests need a closed loop (the policy's decisions change the latency
it sees next) that runs in microseconds; replicas become ready after a cold start.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from seedcoder.autoscaler import PolicyConfig, PolicyPool, PolicyState, PoolObservation, decide
from seedcoder.autoscaler.capacity import predicted_p95_ms


@dataclass
class Plant:
    pool: PolicyPool
    true_capacity: float
    cold_start_s: float = 120.0
    replicas: int = 1
    starting: list[float] = field(default_factory=list)
    ready: int = 1

    def observe(self, now: float, rate: float, cfg: PolicyConfig) -> PoolObservation:
        done = [t for t in self.starting if t <= now]
        self.starting = [t for t in self.starting if t > now]
        self.ready = min(self.replicas, self.ready + len(done))
        per = rate / self.ready if self.ready else float("inf")
        p95 = (
            predicted_p95_ms(per, self.true_capacity, cfg.slo_ttft_p95_ms, 150.0, 0.6) if self.ready else None
        )
        return PoolObservation(
            replicas=self.replicas,
            ready=self.ready,
            observed_at=now,
            request_rate=rate,
            ttft_p95_ms=min(p95, 60_000.0) if p95 is not None else None,
            queue_depth=0.0,
        )

    def apply(self, now: float, n: int) -> None:
        if n > self.replicas:
            self.starting += [now + self.cold_start_s] * (n - self.replicas)
        elif n < self.replicas:
            drop = self.replicas - n
            while drop and self.starting:
                self.starting.pop()
                drop -= 1
            self.ready -= drop
        self.replicas = n


def run_loop(
    pool: PolicyPool, rates: list[float], true_capacity: float, cfg: PolicyConfig, start_replicas: int = 1
) -> tuple[list[int], list[str]]:
    """Closed loop over ``rates`` (one per interval); returns replicas after each call and the causes."""
    plant = Plant(pool=pool, true_capacity=true_capacity, replicas=start_replicas, ready=start_replicas)
    state = PolicyState()
    replicas, causes = [], []
    for i, rate in enumerate(rates):
        now = 1000.0 + i * cfg.interval_s
        obs = plant.observe(now, rate, cfg)
        res = decide([pool], {pool.name: obs}, state, now, cfg)
        state = res.state
        plant.apply(now, res.desired[pool.name])
        replicas.append(plant.replicas)
        causes.append(res.decisions[0].cause)
    return replicas, causes

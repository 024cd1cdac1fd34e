"""Discrete-event simulation of pools of replicas driven by a workload and a scaling policy.

Why: every policy (ours, the baselines, the oracle) must face the same arrivals,
the same replica physics, the same cold start and the same router, so that the
GPU-hours and SLO attainment they reach are comparable. Replicas are billed from
scheduling and serve from ready; removed replicas stop taking requests and are
billed until their last request finishes.

The router is the gateway's own code (``seedcoder.gateway.routing``): each pool
is a routing ``Pool`` built from the ``PoolEndpoint`` the operator writes into
the gateway's configuration, a ready replica is a healthy ``Endpoint``, a
retired one drains; every request goes through ``choose`` and ``Pool.pick``
with each endpoint's outstanding count brought up to date first (requests
queued, prefilling or decoding on that replica). A balancing defect in the
gateway or in the operator's routing hints therefore costs SLO here.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from seedcoder.api.gateway_config import PoolEndpoint
from seedcoder.gateway.routing import Endpoint, choose
from seedcoder.gateway.routing import Pool as RoutingPool
from seedcoder.operator.objects.gateway_objects import pool_endpoint, routing_hints

from benchmarks.autoscaling.latency import LatencyProfile
from benchmarks.autoscaling.noise import Noise
from benchmarks.autoscaling.replica import Replica
from benchmarks.autoscaling.workload import Workload

_BOUNDARY, _READY, _TICK = 0, 1, 2


@dataclass(frozen=True)
class PoolConfig:
    """A pool in the simulated fleet."""

    name: str
    profile: LatencyProfile
    min_replicas: int
    max_replicas: int
    cost_per_hour_usd: float
    max_input_len: int = 8192
    """The engine's longest prompt (the operator passes it to the gateway's configuration)."""
    slo_ms: float = 300.0


def gateway_pools(pools: list[PoolConfig]) -> list[PoolEndpoint]:
    """What the operator writes into the gateway's configuration for these pools (its own functions)."""
    hints = routing_hints([(p.profile.gpu, p.profile.precision) for p in pools], pools[0].slo_ms)
    return [
        pool_endpoint(
            instance="bench",
            namespace="bench",
            pool=p.name,
            gpu=p.profile.gpu,
            max_input_len=p.max_input_len,
            domain="cluster.local",
            capacity_weight=weight,
            max_prompt_tokens=longest,
        )
        for p, (weight, longest) in zip(pools, hints, strict=True)
    ]


class _NoBackend:
    """The simulated replica is reached by the fleet, not through a backend."""


@dataclass
class PoolRecord:
    """Per-pool time series the metrics view reads (appended in time order)."""

    arrivals: list[float] = field(default_factory=list)
    first_t: list[float] = field(default_factory=list)
    first_ttft: list[float] = field(default_factory=list)
    backlog: deque[int] = field(default_factory=deque)


@dataclass
class ScaleEvent:
    time: float
    pool: str
    from_replicas: int
    to_replicas: int


class Fleet:
    """The simulator. ``run(tick, interval)`` calls ``tick(fleet, now)`` every ``interval`` seconds."""

    def __init__(
        self,
        workload: Workload,
        pools: list[PoolConfig],
        cold_start_s: float,
        seed: int,
        initial: dict[str, int],
        noise_sigma: float = 0.1,
    ) -> None:
        self.w = workload
        self.pools = {p.name: p for p in pools}
        self.cold_start = cold_start_s
        self.noise = Noise(seed, noise_sigma)
        self.arr = workload.t
        self.prompt, self.gen = workload.prompt, workload.gen
        n = len(self.arr)
        self.ttft = [math.inf] * n
        self.served_by = [""] * n
        self.replicas: dict[str, list[Replica]] = {p.name: [] for p in pools}
        self.routable: dict[str, list[Replica]] = {p.name: [] for p in pools}
        self.router = [
            RoutingPool(ep.name, ep.capacity_weight, ep.max_prompt_tokens) for ep in gateway_pools(pools)
        ]
        self._router_by_name = {rp.name: rp for rp in self.router}
        self._rep_of: dict[str, Replica] = {}
        self.records = {p.name: PoolRecord() for p in pools}
        self.scale_events: list[ScaleEvent] = []
        self.timeline: list[tuple[float, dict[str, int], dict[str, int]]] = []
        self.now = 0.0
        self._heap: list[tuple[float, int, int, Replica | None]] = []
        self._seq = 0
        self._next_id = 0
        self._firsts: list[int] = []
        for name, k in initial.items():
            for _ in range(k):
                self._start_replica(name, 0.0, ready_now=True)

    # ------------------------------------------------------------------ replicas
    def _push(self, t: float, kind: int, rep: Replica | None) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, kind, rep))

    def _start_replica(self, pool: str, t: float, ready_now: bool = False) -> None:
        ready_at = t if ready_now else t + self.cold_start
        rep = Replica(
            self._next_id, pool, self.pools[pool].profile, t, ready_at, self.noise, self.prompt, self.gen
        )
        self._next_id += 1
        self.replicas[pool].append(rep)
        if ready_now:
            self._make_ready(rep)
        else:
            self._push(ready_at, _READY, rep)

    def _make_ready(self, rep: Replica) -> None:
        if rep.draining:
            return
        rep.ready = True
        rep.clock = max(rep.clock, rep.ready_at)
        self.routable[rep.pool].append(rep)
        self._sync_endpoints(rep.pool)
        backlog = self.records[rep.pool].backlog
        while backlog:
            self._dispatch(rep, backlog.popleft(), rep.ready_at)

    def active(self, pool: str) -> list[Replica]:
        """Replicas asked for (starting or ready, not draining)."""
        return [r for r in self.replicas[pool] if not r.draining]

    def set_replicas(self, pool: str, n: int, t: float) -> None:
        cfg = self.pools[pool]
        n = max(cfg.min_replicas, min(cfg.max_replicas, n))
        act = self.active(pool)
        if n == len(act):
            return
        self.scale_events.append(ScaleEvent(t, pool, len(act), n))
        if n > len(act):
            for _ in range(n - len(act)):
                self._start_replica(pool, t)
            return
        starting = sorted((r for r in act if not r.ready), key=lambda r: -r.created_at)
        ready = sorted((r for r in act if r.ready), key=lambda r: r.inflight())
        for rep in (starting + ready)[: len(act) - n]:
            self._retire(rep, t)

    def _retire(self, rep: Replica, t: float) -> None:
        rep.draining = True
        if not rep.ready:
            rep.stopped_at = t
            return
        self.routable[rep.pool].remove(rep)
        self._sync_endpoints(rep.pool)
        if not rep.busy and not rep.has_prefill_work():
            rep.stopped_at = max(t, rep.drain_end())

    # ------------------------------------------------------------------ requests
    def _sync_endpoints(self, pool: str) -> None:
        """Make the routing pool's endpoints the ready replicas (the gateway's ``Pool.update``)."""
        rp = self._router_by_name[pool]
        addresses = [f"r{r.rid}" for r in self.routable[pool]]
        for r in self.routable[pool]:
            self._rep_of[f"r{r.rid}"] = r
        added, _ = rp.update(addresses, lambda _pool, _address: _NoBackend())  # type: ignore[arg-type,return-value]
        for ep in added:
            ep.healthy = True  # the first probe succeeds: the replica just became ready

    def _outstanding(self, ep: Endpoint) -> int:
        r = self._rep_of[ep.address]
        if not r.busy:
            r.advance(self.now)
        return r.inflight()

    def _route(self, i: int) -> None:
        p = self.prompt[i]
        for rp in self.router:
            for ep in rp.endpoints.values():
                ep.outstanding = self._outstanding(ep)
            for ep in list(rp.draining.values()):
                ep.outstanding = self._outstanding(ep)
            rp.reap()
        chosen = choose(self.router, p)
        ep = chosen.pick() if chosen is not None else None
        if chosen is None or ep is None:
            rec_pool = self._fallback_pool(p)
            self.records[rec_pool].arrivals.append(self.arr[i])
            self.records[rec_pool].backlog.append(i)
            return
        chosen.acquire(ep)
        rep = self._rep_of[ep.address]
        self.records[rep.pool].arrivals.append(self.arr[i])
        self._dispatch(rep, i, self.arr[i])

    def _fallback_pool(self, prompt: int) -> str:
        """No ready replica anywhere: the request waits for the first pool whose prompts it fits."""
        fits = [
            rp.name for rp in self.router if rp.max_prompt_tokens is None or prompt <= rp.max_prompt_tokens
        ]
        return fits[0] if fits else self.router[0].name

    def _dispatch(self, rep: Replica, i: int, t: float) -> None:
        self.served_by[i] = rep.pool
        rep.queue.append(i)
        rep.pending_tokens += self.prompt[i]
        if not rep.busy:
            b = rep.advance(t)
            self._push(rep.plan_iteration(b), _BOUNDARY, rep)

    def _boundary(self, rep: Replica, t: float) -> None:
        firsts = self._firsts
        firsts.clear()
        rep.finish_iteration(t, firsts)
        if firsts:
            rec = self.records[rep.pool]
            for req in firsts:
                v = t - self.arr[req]
                self.ttft[req] = v
                rec.first_t.append(t)
                rec.first_ttft.append(v)
        if rep.has_prefill_work():
            self._push(rep.plan_iteration(t), _BOUNDARY, rep)
        elif rep.draining and rep.stopped_at is None:
            rep.stopped_at = rep.drain_end()

    # ------------------------------------------------------------------ main loop
    def run(
        self,
        tick: Callable[[Fleet, float], None] | None,
        interval: float,
        sample_every: float = 10.0,
        tail_s: float = 120.0,
    ) -> None:
        end = self.w.duration
        if tick is not None:
            self._push(0.0, _TICK, None)
        next_sample = 0.0
        arr, n, i = self.arr, len(self.arr), 0
        heap = self._heap
        while True:
            ta = arr[i] if i < n else math.inf
            te = heap[0][0] if heap else math.inf
            if ta == math.inf and te > end + tail_s:
                break
            if ta <= te:
                self.now = ta
                self._route(i)
                i += 1
                continue
            t, _, kind, rep = heapq.heappop(heap)
            self.now = t
            if kind == _BOUNDARY:
                assert rep is not None
                self._boundary(rep, t)
            elif kind == _READY:
                assert rep is not None
                self._make_ready(rep)
            elif t <= end:
                while next_sample <= t:
                    self.timeline.append(
                        (
                            next_sample,
                            {p: len(self.active(p)) for p in self.pools},
                            {p: len(self.routable[p]) for p in self.pools},
                        )
                    )
                    next_sample += sample_every
                assert tick is not None
                tick(self, t)
                self._push(t + interval, _TICK, None)
        self.now = end

    # ------------------------------------------------------------------ metrics for policies
    def rate(self, pool: str, window: float, lag: float = 0.0) -> float:
        a = self.records[pool].arrivals
        hi = self.now - lag
        return (bisect_left(a, hi) - bisect_left(a, hi - window)) / window

    def ttft_quantile(self, pool: str, q: float, window: float, lag: float = 0.0) -> float | None:
        rec = self.records[pool]
        hi = self.now - lag
        j0, j1 = bisect_left(rec.first_t, hi - window), bisect_left(rec.first_t, hi)
        if j1 <= j0:
            return None
        return float(np.quantile(np.asarray(rec.first_ttft[j0:j1]), q))

    def waiting(self, pool: str) -> int:
        return sum(len(r.queue) + len(r.prefill) for r in self.routable[pool]) + len(
            self.records[pool].backlog
        )

    def inflight(self, pool: str) -> int:
        total = len(self.records[pool].backlog)
        for r in self.routable[pool]:
            if not r.busy:
                r.advance(self.now)
            total += r.inflight()
        return total

    def busy_seconds(self, pool: str) -> dict[int, float]:
        """Cumulative busy (duty-cycle) seconds per ready replica, advanced to now."""
        out = {}
        for r in self.routable[pool]:
            if not r.busy:
                r.advance(self.now)
            out[r.rid] = r.busy_time
        return out

"""Choosing a pool, then a Triton replica of it, per request; taking unhealthy ones out (and back in).

Pool rule (stated in docs and tested): among *healthy* pools that can serve the
prompt (``max_prompt_tokens`` unset or >= the prompt's token count), pick the
one with the least ``(outstanding + 1) / capacity``, where ``outstanding`` is
the pool's total over its replicas and ``capacity`` is ``capacity_weight``
times its healthy replicas; ties go to the pool listed first. When no healthy
pool can serve the prompt's length, the healthy pool with the largest
``max_prompt_tokens`` serves it (a slower answer beats none). No healthy pool
at all: 503. The pools the rule sees are already narrowed by the request: its
pinned pool alone (``<model>@<pool>``), else every pool but the candidates
(``gateway.adapters``), and of those the ones that can apply its adapter.

Replica rule: within the chosen pool, the healthy endpoint (one Triton pod, one
gRPC channel) with the fewest outstanding requests; ties rotate, so sequential
traffic alternates too. Replicas of one pool are the same GPU kind, so their
capacities are equal and need no weight.

Endpoints come and go (``endpoints.EndpointWatcher`` resolves each pool's
headless Service): ``Pool.update`` adds the new ones (unhealthy until probed)
and moves the vanished ones to ``draining``, where they finish their in-flight
streams and are closed by ``Pool.reap`` once idle.

Health: a background task asks every endpoint whether the model is ready every
``health_interval_s``; one failure takes the endpoint out, one success puts it
back. A request that finds an endpoint unreachable takes it out at once
(passive check), so the next requests go to the pool's other replicas. A pool
is healthy while any of its endpoints is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from seedcoder.gateway.backend import Backend

log = logging.getLogger("seedcoder.gateway.routing")

BackendFactory = Callable[[str, str], Backend]
"""(pool name, ``host:port`` of one replica) -> a backend reaching that replica."""


@dataclass(slots=True, eq=False)
class Endpoint:
    """One Triton replica of a pool and its live state."""

    address: str
    backend: Backend
    healthy: bool = False
    outstanding: int = 0
    served: int = 0
    draining: bool = False


class Pool:
    """A pool's endpoints (Triton replicas) and the numbers the pool rule reads."""

    def __init__(
        self,
        name: str,
        weight: float,
        max_prompt_tokens: int | None,
        endpoints: Iterable[Endpoint] = (),
    ) -> None:
        self.name = name
        self.weight = weight
        self.max_prompt_tokens = max_prompt_tokens
        self.endpoints: dict[str, Endpoint] = {e.address: e for e in endpoints}
        """Routable endpoints by address (healthy or not), sorted by address."""
        self.draining: dict[str, Endpoint] = {}
        """Removed endpoints still finishing their in-flight requests."""
        self._turn = 0

    # ------------------------------------------------------------------ what the pool rule reads
    @property
    def healthy(self) -> bool:
        return any(e.healthy for e in self.endpoints.values())

    @property
    def healthy_count(self) -> int:
        return sum(1 for e in self.endpoints.values() if e.healthy)

    @property
    def outstanding(self) -> int:
        return sum(e.outstanding for e in self.endpoints.values()) + sum(
            e.outstanding for e in self.draining.values()
        )

    @property
    def capacity(self) -> float:
        return self.weight * max(self.healthy_count, 1)

    # ------------------------------------------------------------------ replicas
    def pick(self) -> Endpoint | None:
        """The healthy endpoint with the fewest outstanding requests (ties rotate), or None."""
        ready = [e for e in self.endpoints.values() if e.healthy]
        if not ready:
            return None
        self._turn += 1
        n = len(ready)
        return min(enumerate(ready), key=lambda ie: (ie[1].outstanding, (ie[0] - self._turn) % n))[1]

    def acquire(self, endpoint: Endpoint) -> None:
        endpoint.outstanding += 1
        endpoint.served += 1

    def release(self, endpoint: Endpoint) -> None:
        endpoint.outstanding -= 1

    def update(
        self, addresses: Iterable[str], factory: BackendFactory
    ) -> tuple[list[Endpoint], list[Endpoint]]:
        """Make the routable endpoints equal to ``addresses``; returns (added, removed).

        An address seen again while draining comes back with its channel (and
        stays unhealthy until the next probe); a new one gets a new backend from
        ``factory`` and is unhealthy until probed.
        """
        wanted = sorted(set(addresses))
        added: list[Endpoint] = []
        removed = [e for a, e in self.endpoints.items() if a not in wanted]
        for ep in removed:
            ep.draining, ep.healthy = True, False
            self.draining[ep.address] = ep
        kept = {a: e for a, e in self.endpoints.items() if a in wanted}
        for address in wanted:
            if address in kept:
                continue
            back = self.draining.pop(address, None)
            if back is not None:
                back.draining = False
            ep = back if back is not None else Endpoint(address, factory(self.name, address))
            kept[address] = ep
            added.append(ep)
        self.endpoints = dict(sorted(kept.items()))
        return added, removed

    def reap(self) -> list[Endpoint]:
        """Remove and return the draining endpoints with nothing in flight (their channels may close)."""
        idle = [e for e in self.draining.values() if e.outstanding <= 0]
        for ep in idle:
            del self.draining[ep.address]
        return idle

    def all_endpoints(self) -> list[Endpoint]:
        return [*self.endpoints.values(), *self.draining.values()]


def choose(pools: Sequence[Pool], prompt_tokens: int | None) -> Pool | None:
    """The pool for a prompt of ``prompt_tokens`` tokens (None: fits anywhere), or None."""
    healthy = [p for p in pools if p.healthy]
    if not healthy:
        return None
    fitting = [
        p
        for p in healthy
        if prompt_tokens is None or p.max_prompt_tokens is None or prompt_tokens <= p.max_prompt_tokens
    ]
    if not fitting:
        return max(healthy, key=lambda p: p.max_prompt_tokens or 0)
    return min(fitting, key=lambda p: (p.outstanding + 1) / p.capacity)


def smallest_limit(pools: Sequence[Pool]) -> int | None:
    """The smallest ``max_prompt_tokens`` among healthy pools (None when none is limited)."""
    limits = [p.max_prompt_tokens for p in pools if p.healthy and p.max_prompt_tokens is not None]
    return min(limits) if limits else None


class HealthChecker:
    """Polls every endpoint's model-ready call and flips ``healthy``."""

    def __init__(
        self, pools: Sequence[Pool], interval_s: float, on_change: Callable[[Pool], None] | None = None
    ) -> None:
        self._pools = pools
        self._interval = interval_s
        self._on_change = on_change
        self._task: asyncio.Task[None] | None = None

    async def check_pool(self, pool: Pool, endpoints: Sequence[Endpoint] | None = None) -> None:
        eps = list(pool.endpoints.values()) if endpoints is None else list(endpoints)
        results = await asyncio.gather(*(self._probe(e) for e in eps))
        was = pool.healthy
        for ep, ok in zip(eps, results, strict=True):
            if not ep.draining:
                self._set(pool, ep, ok)
        self.changed(pool, was)

    async def check_once(self) -> None:
        await asyncio.gather(*(self.check_pool(p) for p in self._pools))

    def set(self, pool: Pool, endpoint: Endpoint, ok: bool) -> None:
        """Mark one endpoint (e.g. down, when a request could not reach it)."""
        was = pool.healthy
        self._set(pool, endpoint, ok)
        self.changed(pool, was)

    @staticmethod
    def _set(pool: Pool, ep: Endpoint, ok: bool) -> None:
        if ep.healthy != ok:
            if ok:
                log.info("Endpoint %s of pool %s became healthy.", ep.address, pool.name)
            else:
                log.warning("Endpoint %s of pool %s became unhealthy.", ep.address, pool.name)
            ep.healthy = ok

    def changed(self, pool: Pool, was: bool) -> None:
        """Log a pool's transition (``was``: healthy before) and report the pool's new state."""
        if pool.healthy != was:
            if pool.healthy:
                log.info("Pool %s became healthy.", pool.name)
            else:
                log.warning("Pool %s became unhealthy.", pool.name)
        if self._on_change is not None:
            self._on_change(pool)

    @staticmethod
    async def _probe(ep: Endpoint) -> bool:
        try:
            return await ep.backend.ready()
        except Exception:
            return False

    async def _run(self) -> None:
        while True:
            await self.check_once()
            await asyncio.sleep(self._interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

"""Choosing a pool per request, and taking unhealthy pools out (and back in).

Rule (stated in docs and tested): among *healthy* pools that can serve the
prompt (``max_prompt_tokens`` unset or >= the prompt's token count), pick the
one with the least ``(outstanding + 1) / capacity_weight``; ties go to the pool
listed first. When no healthy pool can serve the prompt's length, the healthy
pool with the largest ``max_prompt_tokens`` serves it (a slower answer beats
none). No healthy pool at all: 503.

Health: a background task asks each pool's Triton whether the model is ready
every ``health_interval_s``; one failure takes the pool out, one success puts it
back. A request that finds a pool unreachable also takes it out at once
(passive check) so that the next requests go elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from seedcoder.gateway.backend import Backend

log = logging.getLogger("seedcoder.gateway.routing")


@dataclass(slots=True)
class Pool:
    """A pool's backend and its live state."""

    backend: Backend
    weight: float
    max_prompt_tokens: int | None
    healthy: bool = False
    outstanding: int = 0

    @property
    def name(self) -> str:
        return self.backend.name


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
    return min(fitting, key=lambda p: (p.outstanding + 1) / p.weight)


def smallest_limit(pools: Sequence[Pool]) -> int | None:
    """The smallest ``max_prompt_tokens`` among healthy pools (None when none is limited)."""
    limits = [p.max_prompt_tokens for p in pools if p.healthy and p.max_prompt_tokens is not None]
    return min(limits) if limits else None


class HealthChecker:
    """Polls every pool's model-ready endpoint and flips ``healthy``."""

    def __init__(
        self, pools: Sequence[Pool], interval_s: float, on_change: Callable[[Pool], None] | None = None
    ) -> None:
        self._pools = pools
        self._interval = interval_s
        self._on_change = on_change
        self._task: asyncio.Task[None] | None = None

    async def check_once(self) -> None:
        results = await asyncio.gather(*(self._probe(p) for p in self._pools))
        for pool, ok in zip(self._pools, results, strict=True):
            self.set(pool, ok)

    def set(self, pool: Pool, ok: bool) -> None:
        if pool.healthy != ok:
            if ok:
                log.info("Pool %s became healthy.", pool.name)
            else:
                log.warning("Pool %s became unhealthy.", pool.name)
            pool.healthy = ok
        if self._on_change is not None:
            self._on_change(pool)

    @staticmethod
    async def _probe(pool: Pool) -> bool:
        try:
            return await pool.backend.ready()
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

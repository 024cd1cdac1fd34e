"""Finding every ready Triton replica of each pool, and keeping that list current.

Why: one HTTP/2 channel to a ClusterIP Service pins a gateway replica to one
Triton pod (kube-proxy balances connections, not requests), so replicas the
autoscaler adds would get no traffic. The operator makes each pool's Service
headless, so its DNS name answers with the IP of every *ready* pod; this module
re-resolves that name every ``endpoint_refresh_s`` and hands the answer to
``Pool.update`` (one channel per replica, least-outstanding routing in
``routing``). New endpoints are probed at once, before they take traffic;
vanished ones drain and their channels close once idle.

A ``grpc_url`` whose host is a literal IP address is one static endpoint and is
never resolved (local runs and tests). A DNS answer of "no such name" means no
ready replica (a headless Service with none answers so); any other resolver
failure keeps the last known endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence

from seedcoder.gateway.routing import BackendFactory, Endpoint, HealthChecker, Pool

log = logging.getLogger("seedcoder.gateway.endpoints")

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""(host, port) -> IP addresses of every replica behind ``host``."""

_NO_SUCH_NAME = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}


def split_target(url: str) -> tuple[str, int]:
    """``host:port`` (or ``[v6]:port``) -> (host, port)."""
    host, sep, port = url.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"not a host:port target: {url!r}")
    return host.strip("[]"), int(port)


def join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def dns_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (sorted; empty when the name does not exist)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno in _NO_SUCH_NAME:
            return []
        raise
    return sorted({str(info[4][0]) for info in infos})


class EndpointWatcher:
    """Re-resolves each pool's host and applies the answer (see the module docstring)."""

    def __init__(
        self,
        pools: Sequence[Pool],
        targets: dict[str, str],
        factory: BackendFactory,
        resolver: Resolver,
        health: HealthChecker,
        interval_s: float,
        on_change: Callable[[Pool], None] | None = None,
    ) -> None:
        self._pools = pools
        self._targets = {name: split_target(url) for name, url in targets.items()}
        self._factory = factory
        self._resolver = resolver
        self._health = health
        self._interval = interval_s
        self._on_change = on_change
        self._task: asyncio.Task[None] | None = None

    def dynamic(self, pool: Pool) -> bool:
        """Whether the pool's target is a name to resolve (not a literal IP)."""
        target = self._targets.get(pool.name)
        return target is not None and not is_literal(target[0])

    async def refresh_pool(self, pool: Pool) -> None:
        if self.dynamic(pool):
            host, port = self._targets[pool.name]
            was = pool.healthy
            try:
                ips = await self._resolver(host, port)
            except Exception as exc:
                log.warning("Failed to resolve %s for pool %s (kept %d endpoints): %s",
                            host, pool.name, len(pool.endpoints), exc)  # fmt: skip
            else:
                added, removed = pool.update((join(ip, port) for ip in ips), self._factory)
                for ep in removed:
                    log.info("Endpoint %s left pool %s; draining %d requests.",
                             ep.address, pool.name, ep.outstanding)  # fmt: skip
                for ep in added:
                    log.info("Endpoint %s joined pool %s.", ep.address, pool.name)
                if added:
                    await self._health.check_pool(pool, added)
                self._health.changed(pool, was)
        await self._close(pool.reap())
        if self._on_change is not None:
            self._on_change(pool)

    async def refresh_once(self) -> None:
        await asyncio.gather(*(self.refresh_pool(p) for p in self._pools))

    @staticmethod
    async def _close(endpoints: list[Endpoint]) -> None:
        for ep in endpoints:
            try:
                await ep.backend.close()
            except Exception:
                log.exception("Failed to close the channel to %s.", ep.address)

    async def close_all(self) -> None:
        for pool in self._pools:
            await self._close(pool.all_endpoints())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.refresh_once()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

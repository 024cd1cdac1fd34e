"""A pool's replicas: the endpoint set, replica choice, draining and re-resolution (injected resolver)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence

import pytest
from seedcoder.gateway.backend import Chunk, GenParams
from seedcoder.gateway.endpoints import EndpointWatcher, dns_resolver, is_literal, join, split_target
from seedcoder.gateway.routing import Endpoint, HealthChecker, Pool, choose


class FakeBackend:
    """Records what happens to one replica's channel; ``up`` says what ready() answers."""

    def __init__(self, name: str, address: str, up: dict[str, bool]) -> None:
        self.name, self.address, self._up = name, address, up
        self.closed = False

    async def generate(self, params: GenParams) -> AsyncGenerator[Chunk, None]:
        raise AssertionError("not used")
        yield  # pragma: no cover

    async def count_tokens(self, text: str) -> int:
        return len(text)

    async def ready(self) -> bool:
        if self.closed:
            raise ConnectionError("closed")
        return self._up.get(self.address, True)

    async def close(self) -> None:
        self.closed = True


class Fixture:
    def __init__(self) -> None:
        self.up: dict[str, bool] = {}
        self.made: dict[str, FakeBackend] = {}
        self.answer: list[str] | Exception = []
        self.calls = 0

    def factory(self, pool: str, address: str) -> FakeBackend:
        backend = FakeBackend(pool, address, self.up)
        self.made[address] = backend
        return backend

    async def resolve(self, host: str, port: int) -> Sequence[str]:
        self.calls += 1
        assert (host, port) == ("cpu.triton.test", 8001)
        if isinstance(self.answer, Exception):
            raise self.answer
        return list(self.answer)

    def watcher(self, pools: list[Pool], url: str = "cpu.triton.test:8001") -> EndpointWatcher:
        health = HealthChecker(pools, 1.0)
        return EndpointWatcher(pools, {"cpu": url}, self.factory, self.resolve, health, 1.0)


def test_targets_parse_and_join() -> None:
    assert split_target("triton.ns.svc.cluster.local:8001") == ("triton.ns.svc.cluster.local", 8001)
    assert split_target("[fd00::1]:8001") == ("fd00::1", 8001)
    assert join("fd00::1", 8001) == "[fd00::1]:8001"
    assert join("10.0.0.7", 8001) == "10.0.0.7:8001"
    assert is_literal("127.0.0.2")
    assert is_literal("fd00::1")
    assert not is_literal("triton.ns.svc")
    with pytest.raises(ValueError, match="host:port"):
        split_target("no-port")


def test_update_adds_unhealthy_endpoints_and_drains_removed_ones() -> None:
    fx, pool = Fixture(), Pool("cpu", 1.0, None)
    added, removed = pool.update(["10.0.0.2:8001", "10.0.0.1:8001"], fx.factory)
    assert [e.address for e in added] == ["10.0.0.1:8001", "10.0.0.2:8001"]
    assert removed == []
    assert not pool.healthy
    first = pool.endpoints["10.0.0.1:8001"]
    first.healthy = True
    pool.acquire(first)
    added, removed = pool.update(["10.0.0.2:8001"], fx.factory)
    assert added == []
    assert removed == [first]
    assert first.draining
    assert not first.healthy
    assert list(pool.endpoints) == ["10.0.0.2:8001"]
    assert pool.outstanding == 1  # a draining replica's streams still count for the pool
    assert pool.reap() == []  # still busy
    pool.release(first)
    assert pool.reap() == [first]
    assert pool.draining == {}
    # an address that comes back while draining keeps its channel
    pool.update(["10.0.0.3:8001"], fx.factory)
    old = pool.draining["10.0.0.2:8001"]
    pool.update(["10.0.0.2:8001", "10.0.0.3:8001"], fx.factory)
    assert pool.endpoints["10.0.0.2:8001"] is old
    assert not old.draining


def test_pick_takes_least_outstanding_healthy_replica_and_rotates_ties() -> None:
    fx, pool = Fixture(), Pool("cpu", 1.0, None)
    pool.update(["a:1", "b:1", "c:1"], fx.factory)
    a, b, _c = pool.endpoints.values()
    a.healthy = b.healthy = True  # c is not ready
    picks = [pool.pick() for _ in range(6)]
    assert {p.address for p in picks if p is not None} == {"a:1", "b:1"}
    assert sum(p is a for p in picks) == 3  # sequential traffic alternates
    pool.acquire(a)
    assert all(pool.pick() is b for _ in range(3))
    pool.acquire(b)
    pool.acquire(b)
    assert pool.pick() is a
    a.healthy = b.healthy = False
    assert pool.pick() is None
    assert not pool.healthy


def test_pool_choice_reads_the_pools_total_and_its_healthy_replicas() -> None:
    fx = Fixture()
    two, one = Pool("two", 1.0, None), Pool("one", 1.0, None)
    two.update(["a:1", "b:1"], fx.factory)
    one.update(["c:1"], fx.factory)
    for ep in [*two.endpoints.values(), *one.endpoints.values()]:
        ep.healthy = True
        ep.outstanding = 2
    assert choose([one, two], None) is two  # (4+1)/(1*2) = 2.5 < (2+1)/1 = 3
    two.endpoints["b:1"].healthy = False  # capacity halves, outstanding stays: (4+1)/1 = 5 > 3
    assert choose([one, two], None) is one


async def test_watcher_follows_the_resolver_drains_and_closes() -> None:
    fx = Fixture()
    pool = Pool("cpu", 1.0, None)
    watcher = fx.watcher([pool])
    fx.answer = ["10.0.0.1", "10.0.0.2"]
    fx.up["10.0.0.2:8001"] = False
    await watcher.refresh_once()
    assert list(pool.endpoints) == ["10.0.0.1:8001", "10.0.0.2:8001"]
    assert [e.healthy for e in pool.endpoints.values()] == [True, False]  # probed on arrival

    busy = pool.endpoints["10.0.0.1:8001"]
    pool.acquire(busy)
    fx.up["10.0.0.2:8001"] = True
    fx.answer = ["10.0.0.2", "10.0.0.3"]
    await watcher.refresh_once()
    assert list(pool.endpoints) == ["10.0.0.2:8001", "10.0.0.3:8001"]
    assert pool.endpoints["10.0.0.3:8001"].healthy  # a new one is probed at once
    assert not fx.made["10.0.0.1:8001"].closed  # draining: its request is still running
    pool.release(busy)
    await watcher.refresh_once()
    assert fx.made["10.0.0.1:8001"].closed
    assert pool.draining == {}

    # a resolver failure keeps what is known; "no such name" (an empty answer) empties the pool
    fx.answer = OSError("DNS timed out")
    await watcher.refresh_once()
    assert len(pool.endpoints) == 2
    fx.answer = []
    await watcher.refresh_once()
    assert pool.endpoints == {}
    assert not pool.healthy
    assert all(b.closed for b in fx.made.values())
    await watcher.close_all()


async def test_a_literal_ip_target_is_one_static_endpoint() -> None:
    fx = Fixture()
    pool = Pool("cpu", 1.0, None)
    watcher = fx.watcher([pool], url="127.0.0.2:8001")
    assert not watcher.dynamic(pool)
    pool.update(["127.0.0.2:8001"], fx.factory)
    await watcher.refresh_once()
    assert fx.calls == 0
    assert list(pool.endpoints) == ["127.0.0.2:8001"]


async def test_mark_down_takes_one_replica_out_not_the_pool() -> None:
    fx = Fixture()
    pool = Pool("cpu", 1.0, None)
    health = HealthChecker([pool], 1.0)
    pool.update(["a:1", "b:1"], fx.factory)
    await health.check_once()
    a: Endpoint = pool.endpoints["a:1"]
    health.set(pool, a, False)
    assert pool.healthy
    assert all(pool.pick() is pool.endpoints["b:1"] for _ in range(4))
    await health.check_once()  # the next probe puts it back
    assert a.healthy


async def test_dns_resolver_answers_loopback_for_localhost() -> None:
    ips = await dns_resolver("localhost", 8001)
    assert ips
    assert all(ip in ("127.0.0.1", "::1") for ip in ips)

"""Candidate ranking, token buckets and the TTL cache (pure code on a fake clock)."""

from __future__ import annotations

from typing import Any

from seedcoder.gateway.limits import RateLimiter, TTLCache
from seedcoder.gateway.ranking import Candidate, rank
from seedcoder.gateway.routing import Endpoint, Pool, choose, smallest_limit


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rank_dedupes_drops_empty_and_orders_by_mean_logprob() -> None:
    out = rank(
        [
            Candidate("a()", "stop", 2, -4.0),
            Candidate("  \n", "stop", 1, -0.1),
            Candidate("b()", "stop", 10, -5.0),
            Candidate("a()  ", "stop", 2, -4.0),
        ]
    )
    assert [c.text for c in out] == ["b()", "a()"]  # -0.5 per token beats -2.0
    assert out[1].votes == 2
    assert out[0].score == -0.5


def test_rank_heuristic_without_logprobs_prefers_votes_then_finished() -> None:
    out = rank(
        [
            Candidate("x = 1", "length", 3),
            Candidate("y = 2", "stop", 3),
            Candidate("x = 1", "length", 3),
        ]
    )
    assert [c.text for c in out] == ["x = 1", "y = 2"]
    assert out[0].score > out[1].score


def test_rank_all_empty_returns_one() -> None:
    out = rank([Candidate("", "stop", 0), Candidate(" ", "stop", 1)])
    assert len(out) == 1
    assert out[0].text == ""


def test_token_bucket_burst_then_refill() -> None:
    clock = FakeClock()
    rl = RateLimiter(rate=2.0, burst=3, clock=clock)
    assert [rl.acquire("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = rl.acquire("k")
    assert 0.49 < wait <= 0.5
    assert rl.acquire("other") == 0.0  # per key
    clock.now += 0.5
    assert rl.acquire("k") == 0.0


def test_ttl_cache_expires_and_evicts_lru() -> None:
    clock = FakeClock()
    cache: TTLCache[str] = TTLCache(2, ttl=10, clock=clock)
    cache.put("a", "1")
    cache.put("b", "2")
    assert cache.get("a") == "1"
    cache.put("c", "3")  # evicts b (least recently used)
    assert cache.get("b") is None
    assert cache.get("a") == "1"
    clock.now += 11
    assert cache.get("a") is None
    assert len(cache) == 1
    off: TTLCache[str] = TTLCache(0, ttl=10, clock=clock)
    off.put("a", "1")
    assert off.get("a") is None


class _B:
    def __init__(self, name: str) -> None:
        self.name = name


def _pool(name: str, weight: float = 1.0, limit: int | None = None, out: int = 0) -> Pool:
    backend: Any = _B(name)
    ep = Endpoint(f"{name}:8001", backend, healthy=True, outstanding=out)
    return Pool(name, weight, limit, [ep])


def _down(pool: Pool) -> None:
    for ep in pool.endpoints.values():
        ep.healthy = False


def test_routing_least_outstanding_weighted_by_capacity() -> None:
    h100, a100 = _pool("h100", weight=3.0, out=4), _pool("a100", weight=1.0, out=1)
    assert choose([h100, a100], None) is h100  # (4+1)/3 = 1.67 < (1+1)/1 = 2
    h100.endpoints["h100:8001"].outstanding = 6
    assert choose([h100, a100], None) is a100  # (6+1)/3 = 2.33 > 2


def test_routing_long_prompts_skip_limited_pools_and_unhealthy_ones() -> None:
    short, long_ = _pool("a100", limit=2048), _pool("h100", limit=8192, out=10)
    assert choose([short, long_], 4000) is long_
    assert choose([short, long_], 100) is short
    assert choose([short, long_], 10_000) is long_  # nobody fits: the largest limit serves it
    _down(long_)
    assert choose([short, long_], 4000) is short
    _down(short)
    assert choose([short, long_], 1) is None
    assert smallest_limit([_pool("x", limit=5), _pool("y")]) == 5

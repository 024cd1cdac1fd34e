"""Pinning a request to one pool (``<model>@<pool>``) and keeping candidate pools out of ordinary traffic.

The engine quality gate scores a pool's serving engine and a candidate (a
one-replica canary of a new engine) through the real gateway, so the pin must
reach exactly the named pool and ordinary traffic must never reach the
candidate. The parser and the router are tested pure, on a real
``GatewayConfig``; the behaviour end to end runs the real gateway process in
front of the session's real Triton, with both pools' gRPC URLs pointing at it
(the answer's ``seedcoder.pool`` and ``x-seedcoder-pool`` say which pool served)
or one pool pointing at a port nobody listens on (a pool that is down).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from seedcoder.api.adapters import POOL_SEPARATOR, pool_model, split_model, split_pool
from seedcoder.api.gateway_config import GatewayConfig, PoolEndpoint
from seedcoder.gateway.adapters import AdapterRouter
from seedcoder.gateway.errors import BackendUnavailable, InvalidRequest, NotFound
from seedcoder.gateway.feedback import RecentCompletions
from seedcoder.gateway.jobs import from_completion, from_infill
from seedcoder.gateway.metrics import Metrics
from seedcoder.gateway.protocol import CompletionRequest, InfillRequest
from seedcoder.gateway.routing import Pool
from seedcoder.gateway.service import CompletionService

from tests.fixtures.gateway import MODEL_NAME, GatewayProcess, free_port

PROMPT = "def add(a, b):\n"


def config(**overrides: object) -> GatewayConfig:
    raw: dict[str, object] = {
        "model_name": MODEL_NAME,
        "pools": [
            {"name": "canary", "grpc_url": "10.0.0.3:8001", "gpu": "CPU", "candidate": True},
            {"name": "h100", "grpc_url": "10.0.0.1:8001", "gpu": "H100", "runtime": "tensorrt-llm"},
            {"name": "cpu", "grpc_url": "10.0.0.2:8001", "gpu": "CPU"},
        ],
        "adapters": [
            {"name": "search", "teams": ["search"], "gguf": "search/r1/adapter.gguf"},
            {"name": "only-cpu", "gguf": "o/a.gguf", "pools": ["cpu"]},
        ],
    }
    raw.update(overrides)
    return GatewayConfig.model_validate(raw)


# ---------------------------------------------------------------------- pure: names, routes, pools
def test_the_pool_part_is_last_and_split_in_one_place() -> None:
    assert POOL_SEPARATOR == "@"
    assert split_pool(f"{MODEL_NAME}@h100") == (MODEL_NAME, "h100")
    assert split_pool(f"{MODEL_NAME}:search@h100") == (f"{MODEL_NAME}:search", "h100")
    assert split_pool(MODEL_NAME) == (MODEL_NAME, None)
    assert split_pool(f"{MODEL_NAME}:search") == (f"{MODEL_NAME}:search", None)
    assert split_pool(f"{MODEL_NAME}@") == (MODEL_NAME, "")
    assert split_pool("m@a@b") == ("m@a", "b")
    assert pool_model(f"{MODEL_NAME}:search", "cpu") == f"{MODEL_NAME}:search@cpu"
    assert split_model(split_pool(pool_model(f"{MODEL_NAME}:search", "cpu"))[0]) == (MODEL_NAME, "search")


def test_a_pin_routes_to_the_pool_and_echoes_the_pinned_id() -> None:
    router = AdapterRouter(config())
    assert router.route(MODEL_NAME, team=None).pool is None
    route = router.route(f"{MODEL_NAME}@canary", team=None)
    assert (route.model, route.adapter, route.pool) == (f"{MODEL_NAME}@canary", None, "canary")
    route = router.route(f"{MODEL_NAME}:search@cpu", team=None)
    assert route.adapter is not None
    assert (route.model, route.adapter.name, route.pool, route.label) == (
        f"{MODEL_NAME}:search@cpu",
        "search",
        "cpu",
        "search",
    )
    # the pin chooses the pool only: a team's default adapter still applies, ':base' still forces the base
    assert router.route(f"{MODEL_NAME}@cpu", team="search").model == f"{MODEL_NAME}:search@cpu"
    assert router.route(f"{MODEL_NAME}:base@cpu", team="search").model == f"{MODEL_NAME}@cpu"
    assert router.label_of(f"{MODEL_NAME}:search@cpu") == "search"
    assert router.label_of(f"{MODEL_NAME}@cpu") == "base"


def test_an_unknown_or_empty_pool_is_an_error_naming_it() -> None:
    router = AdapterRouter(config())
    with pytest.raises(NotFound) as err:
        router.route(f"{MODEL_NAME}@a100", team=None)
    assert err.value.status == 404
    assert err.value.code == "model_not_found"
    assert err.value.param == "model"
    assert "'a100'" in err.value.message
    assert "configured pools: canary, h100, cpu" in err.value.message
    with pytest.raises(InvalidRequest) as bad:
        router.route(f"{MODEL_NAME}@", team=None)
    assert bad.value.status == 400
    assert "empty pool" in bad.value.message
    with pytest.raises(NotFound, match="'gpt-4@cpu' does not exist"):
        router.route("gpt-4@cpu", team=None)
    with pytest.raises(NotFound, match="adapter 'nope'"):
        router.route(f"{MODEL_NAME}:nope@cpu", team=None)


def test_jobs_carry_the_pin_and_infill_is_never_pinned() -> None:
    cfg = config()
    router = AdapterRouter(cfg)
    req = CompletionRequest.model_validate({"model": f"{MODEL_NAME}@h100", "prompt": "x"})
    job = from_completion(req, cfg, router, team=None)
    assert (job.model, job.pool) == (f"{MODEL_NAME}@h100", "h100")
    assert (
        from_completion(CompletionRequest.model_validate({"model": MODEL_NAME, "prompt": "x"}), cfg).pool
        is None
    )
    assert from_infill(InfillRequest.model_validate({"input_prefix": "x"}), cfg, router).pool is None


def test_candidates_serve_pins_only_and_a_pin_serves_that_pool_only() -> None:
    cfg = config()
    router = AdapterRouter(cfg)
    pools = [Pool(p.name, p.capacity_weight, None) for p in cfg.pools]
    search, only_cpu = cfg.adapters

    def names(chosen: list[Pool]) -> list[str]:
        return [p.name for p in chosen]

    assert names(router.pools_for(None, pools)) == ["h100", "cpu"]
    assert names(router.pools_for(None, pools, "canary")) == ["canary"]
    assert names(router.pools_for(None, pools, "h100")) == ["h100"]
    assert names(router.pools_for(search, pools)) == ["cpu"]  # no trtllm files: not h100
    assert names(router.pools_for(search, pools, "canary")) == ["canary"]
    assert names(router.pools_for(search, pools, "h100")) == []
    assert names(router.pools_for(only_cpu, pools, "canary")) == []
    assert router.is_candidate("canary")
    assert not router.is_candidate("cpu")


def test_a_pool_that_is_no_candidate_is_written_as_before() -> None:
    plain = PoolEndpoint(name="cpu", grpc_url="x:1", gpu="CPU")
    assert "candidate" not in plain.model_dump(mode="json")
    assert '"candidate"' not in GatewayConfig(model_name="m", pools=[plain]).model_dump_json()
    canary = PoolEndpoint(name="canary", grpc_url="x:1", gpu="CPU", candidate=True)
    assert canary.model_dump(mode="json")["candidate"] is True
    again = GatewayConfig.model_validate_json(
        GatewayConfig(model_name="m", pools=[plain, canary]).model_dump_json()
    )
    assert [p.candidate for p in again.pools] == [False, True]


def test_models_lists_neither_candidates_nor_pinned_ids() -> None:
    data = AdapterRouter(config()).listing(created=1)
    ids = [d["id"] for d in data]
    assert ids == [MODEL_NAME, f"{MODEL_NAME}:only-cpu", f"{MODEL_NAME}:search"]
    assert not any(POOL_SEPARATOR in str(i) for i in ids)


def test_the_service_refuses_a_pinned_pool_that_is_down_or_cannot_apply_the_adapter() -> None:
    cfg = config()
    pools = [Pool(p.name, p.capacity_weight, None) for p in cfg.pools]  # no endpoints yet: all down
    service = CompletionService(cfg, pools, Metrics(), RecentCompletions(8), mark_down=lambda p, e: None)

    def job(model: str) -> Any:
        return from_completion(CompletionRequest.model_validate({"model": model, "prompt": "x"}), cfg)

    with pytest.raises(BackendUnavailable) as down:
        service._pools(job(f"{MODEL_NAME}@h100"))
    assert (down.value.status, down.value.code) == (503, "no_healthy_pool")
    assert "'h100'" in down.value.message
    with pytest.raises(BackendUnavailable) as cannot:
        service._pools(job(f"{MODEL_NAME}:only-cpu@canary"))
    assert cannot.value.code == "no_pool_for_adapter"
    assert "'only-cpu'" in cannot.value.message
    assert "'canary'" in cannot.value.message
    only_candidates = GatewayConfig.model_validate(
        {
            "model_name": MODEL_NAME,
            "pools": [{"name": "c", "grpc_url": "x:1", "gpu": "CPU", "candidate": True}],
        }
    )
    lone = CompletionService(
        only_candidates, [Pool("c", 1.0, None)], Metrics(), RecentCompletions(8), lambda p, e: None
    )
    with pytest.raises(BackendUnavailable, match="ordinary traffic"):
        lone._pools(
            from_completion(CompletionRequest.model_validate({"model": MODEL_NAME, "prompt": "x"}), cfg)
        )


# ---------------------------------------------------------------------- end to end: the real gateway
def _pools(serving_url: str, canary_url: str) -> list[dict[str, Any]]:
    # The candidate is listed first: ties in the pool rule go to the pool listed first, so without
    # the candidate rule sequential traffic would land on it.
    return [
        {"name": "canary", "grpc_url": canary_url, "gpu": "CPU", "candidate": True},
        {"name": "serving", "grpc_url": serving_url, "gpu": "CPU"},
    ]


def _complete(gw: GatewayProcess, model: str, **extra: Any) -> httpx.Response:
    body = {"model": model, "prompt": PROMPT, "max_tokens": 3, "temperature": 0, **extra}
    return httpx.post(gw.url + "/v1/completions", json=body, headers=gw.headers(), timeout=300)


async def _burst(gw: GatewayProcess, n: int) -> list[httpx.Response]:
    body = {"model": MODEL_NAME, "prompt": PROMPT, "max_tokens": 3, "temperature": 0.7}
    async with httpx.AsyncClient(base_url=gw.url, headers=gw.headers(), timeout=300) as client:
        return list(await asyncio.gather(*(client.post("/v1/completions", json=body) for _ in range(n))))


@pytest.mark.triton
@pytest.mark.slow
def test_pins_reach_their_pool_ordinary_traffic_never_the_candidate_and_the_cache_keeps_pools_apart(
    triton_server: Any, gateway_factory: Callable[..., GatewayProcess]
) -> None:
    url = triton_server.grpc_url
    gw = gateway_factory(url, pools=_pools(url, url))

    # Ordinary traffic, sequential and concurrent, lands on the serving pool only.
    for _ in range(4):
        r = _complete(gw, MODEL_NAME, temperature=0.7)
        assert r.status_code == 200, r.text
        assert r.json()["seedcoder"]["pool"] == "serving"
        assert r.headers["x-seedcoder-pool"] == "serving"
        assert r.json()["model"] == MODEL_NAME
    burst = asyncio.run(_burst(gw, 8))
    assert [r.status_code for r in burst] == [200] * 8, [r.text for r in burst]
    assert {r.json()["seedcoder"]["pool"] for r in burst} == {"serving"}

    # A pin reaches exactly its pool (the candidate too) and the answer names the pinned id.
    first = _complete(gw, f"{MODEL_NAME}@canary")
    assert first.status_code == 200, first.text
    assert (first.json()["model"], first.json()["seedcoder"]["pool"]) == (f"{MODEL_NAME}@canary", "canary")
    assert first.json()["seedcoder"]["cached"] is False
    # The same greedy request pinned to the other pool is not served from the canary's cache...
    other = _complete(gw, f"{MODEL_NAME}@serving")
    assert other.status_code == 200, other.text
    assert (other.json()["model"], other.json()["seedcoder"]["pool"]) == (f"{MODEL_NAME}@serving", "serving")
    assert other.json()["seedcoder"]["cached"] is False
    # ...while repeating either pin is (the cache is on, so the check above can fail).
    again = _complete(gw, f"{MODEL_NAME}@canary")
    assert again.json()["seedcoder"]["cached"] is True
    assert again.json()["seedcoder"]["pool"] == "canary"

    # Bad pins are named; /v1/models lists neither the candidate nor pinned ids.
    missing = _complete(gw, f"{MODEL_NAME}@a100")
    assert missing.status_code == 404
    error = missing.json()["error"]
    assert error["code"] == "model_not_found"
    assert "'a100'" in error["message"]
    assert "canary, serving" in error["message"]
    empty = _complete(gw, f"{MODEL_NAME}@")
    assert empty.status_code == 400
    assert "empty pool" in empty.json()["error"]["message"]
    models = httpx.get(gw.url + "/v1/models", headers=gw.headers(), timeout=30).json()
    assert [m["id"] for m in models["data"]] == [MODEL_NAME]

    # Metrics label pinned requests by their pinned id (configured pools only).
    metrics = httpx.get(gw.url + "/metrics", timeout=30).text
    assert f'model="{MODEL_NAME}@canary"' in metrics
    assert "a100" not in metrics


@pytest.mark.triton
@pytest.mark.slow
def test_a_healthy_candidate_never_stands_in_for_a_serving_pool_that_is_down(
    triton_server: Any, gateway_factory: Callable[..., GatewayProcess]
) -> None:
    dead = f"127.0.0.1:{free_port()}"  # nobody listens: the serving pool is down
    # Not ready (only a candidate is healthy): wait for the candidate to answer instead.
    gw = gateway_factory(triton_server.grpc_url, pools=_pools(dead, triton_server.grpc_url), wait_ready=False)
    deadline = time.monotonic() + 60
    while _complete(gw, f"{MODEL_NAME}@canary").status_code != 200:
        assert time.monotonic() < deadline, "the candidate never answered"
        time.sleep(0.2)

    for model in (MODEL_NAME, f"{MODEL_NAME}@serving"):
        r = _complete(gw, model)
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "no_healthy_pool"
        assert "retry-after" in r.headers
    pinned = _complete(gw, f"{MODEL_NAME}@serving")
    assert "'serving'" in pinned.json()["error"]["message"]
    # The candidate itself answers when named.
    canary = _complete(gw, f"{MODEL_NAME}@canary")
    assert canary.status_code == 200, canary.text
    assert canary.json()["seedcoder"]["pool"] == "canary"
    assert gw.status("/readyz") == 503, "a healthy candidate alone does not make the gateway ready"


@pytest.mark.triton
@pytest.mark.slow
def test_an_adapter_pinned_to_a_pool_that_cannot_apply_it_is_a_503_naming_both(
    triton_server: Any, gateway_factory: Callable[..., GatewayProcess]
) -> None:
    url = triton_server.grpc_url
    adapters = [{"name": "team-a", "gguf": "team-a/adapter.gguf", "pools": ["serving"]}]
    gw = gateway_factory(url, pools=_pools(url, url), adapters=adapters)

    r = _complete(gw, f"{MODEL_NAME}:team-a@canary")
    assert r.status_code == 503, r.text
    error = r.json()["error"]
    assert error["code"] == "no_pool_for_adapter"
    assert "'team-a'" in error["message"]
    assert "'canary'" in error["message"]
    # The base pinned to the same pool is served there.
    base = _complete(gw, f"{MODEL_NAME}:base@canary")
    assert base.status_code == 200, base.text
    assert (base.json()["model"], base.json()["seedcoder"]["pool"]) == (f"{MODEL_NAME}@canary", "canary")

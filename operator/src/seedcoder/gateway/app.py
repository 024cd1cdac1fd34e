"""Assembling the gateway: dependencies, background tasks and the Starlette routes.

Why Starlette (on uvicorn with uvloop and httptools): the gateway sits on the
time-to-first-token path, so the framework must add microseconds, not
milliseconds; Starlette is a thin ASGI router with no per-request dependency
injection or response-model validation, and lets the SSE response be a raw ASGI
callable. Everything is built here once and passed explicitly (``GatewayDeps``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from seedcoder.api.gateway_config import GatewayConfig
from seedcoder.engines import contract
from seedcoder.gateway import routes
from seedcoder.gateway.auth import KeyStore
from seedcoder.gateway.backend import Backend, TritonBackend
from seedcoder.gateway.deeppass import deep_pass
from seedcoder.gateway.endpoints import EndpointWatcher, Resolver, dns_resolver
from seedcoder.gateway.errors import MethodNotAllowed, NotFound
from seedcoder.gateway.feedback import FeedbackStore, RecentCompletions
from seedcoder.gateway.http import GatewayDeps, error_response, guarded, json_response
from seedcoder.gateway.limits import RateLimiter
from seedcoder.gateway.metrics import Metrics
from seedcoder.gateway.openapi import document
from seedcoder.gateway.routing import BackendFactory, HealthChecker, Pool
from seedcoder.gateway.service import CompletionService
from seedcoder.retrieval.retriever import Retriever

log = logging.getLogger("seedcoder.gateway")


def backend_factory(cfg: GatewayConfig) -> BackendFactory:
    """One Triton gRPC channel per replica address."""

    def make(pool: str, address: str) -> Backend:
        tokenize = cfg.triton_model + contract.TOKENIZE_SUFFIX
        return TritonBackend(pool, address, cfg.triton_model, tokenize, cfg.backend_timeout_s)

    return make


def _pool_gauges(metrics: Metrics, pool: Pool) -> None:
    metrics.pool_healthy.labels(pool.name).set(1 if pool.healthy else 0)
    healthy = pool.healthy_count
    metrics.pool_endpoints.labels(pool.name, "healthy").set(healthy)
    metrics.pool_endpoints.labels(pool.name, "unhealthy").set(len(pool.endpoints) - healthy)
    metrics.pool_endpoints.labels(pool.name, "draining").set(len(pool.draining))


async def _reload_keys(keys: KeyStore, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            keys.reload()
        except OSError:
            log.exception("Failed to re-read the API key directory.")


def create_app(
    cfg: GatewayConfig,
    *,
    factory: BackendFactory | None = None,
    resolver: Resolver = dns_resolver,
) -> Starlette:
    """The ASGI app. gRPC channels bind to the running event loop, so backends are
    created at start-up (in the lifespan), not here. ``factory`` makes the backend
    of one replica address and ``resolver`` finds a pool's replicas (both
    replaceable for tests)."""
    metrics = Metrics()
    pools: list[Pool] = []  # filled at start-up; the service and routes share this list

    def on_change(pool: Pool) -> None:
        _pool_gauges(metrics, pool)

    health = HealthChecker(pools, cfg.health_interval_s, on_change)
    make = factory if factory is not None else backend_factory(cfg)
    targets = {p.name: p.grpc_url for p in cfg.pools}
    watcher = EndpointWatcher(pools, targets, make, resolver, health, cfg.endpoint_refresh_s, on_change)
    recent = RecentCompletions(cfg.recent_completions)
    retriever = Retriever(cfg.retrieval) if cfg.retrieval is not None else None
    service = CompletionService(
        cfg, pools, metrics, recent, mark_down=lambda p, e: health.set(p, e, False), retriever=retriever
    )
    keys = KeyStore(None if cfg.open_mode else cfg.api_keys_dir)
    keys.reload()
    if not cfg.open_mode and keys.count == 0:
        log.warning(
            "No API keys found in %s; every request will get 401 until keys appear.", cfg.api_keys_dir
        )
    deps = GatewayDeps(
        cfg=cfg,
        service=service,
        pools=pools,
        keys=keys,
        limiter=RateLimiter(cfg.rate_limit_rps, cfg.rate_limit_burst, time.monotonic),
        metrics=metrics,
        feedback=FeedbackStore(
            cfg.feedback_dir,
            cfg.feedback_max_file_bytes,
            cfg.feedback_writer or socket.gethostname(),
            scrub_secrets=cfg.scan.scrub_feedback,
            deep=deep_pass(cfg, metrics, service.guard.scanner),
        ),
        recent=recent,
        started=int(time.time()),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for p in cfg.pools:
            pool = Pool(p.name, p.capacity_weight, p.max_prompt_tokens)
            if not watcher.dynamic(pool):  # a literal IP:port is one static endpoint
                pool.update([p.grpc_url], make)
            pools.append(pool)
            on_change(pool)
        await watcher.refresh_once()
        await health.check_once()
        health.start()
        watcher.start()
        reloader = asyncio.create_task(_reload_keys(keys, cfg.api_keys_reload_s))
        log.info("Started the gateway for %s with %d pools.", cfg.model_name, len(pools))
        try:
            yield
        finally:
            reloader.cancel()
            await watcher.stop()
            await health.stop()
            await watcher.close_all()

    openapi = document()

    async def openapi_json(request: Request) -> Response:
        return json_response(openapi)

    async def http_error(request: Request, exc: Exception) -> Response:
        code = exc.status_code if isinstance(exc, HTTPException) else 500
        if code == 405:
            return error_response(
                MethodNotAllowed(f"Method {request.method} not allowed on {request.url.path}")
            )
        return error_response(NotFound(f"No route {request.method} {request.url.path}", code="not_found"))

    app_routes: list[Any] = [
        Route("/v1/completions", guarded("completions", routes.completions), methods=["POST"]),
        Route("/completions", guarded("completions", routes.completions), methods=["POST"]),
        Route("/infill", guarded("infill", routes.infill), methods=["POST"]),
        Route("/v1/feedback", guarded("feedback", routes.feedback), methods=["POST"]),
        Route("/v1/models", guarded("models", routes.models), methods=["GET"]),
        Route("/metrics", routes.metrics, methods=["GET"]),
        Route("/healthz", routes.healthz, methods=["GET"]),
        Route("/readyz", routes.readyz, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
    ]
    app = Starlette(routes=app_routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})
    app.state.deps = deps
    return app

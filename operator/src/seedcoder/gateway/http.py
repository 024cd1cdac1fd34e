"""HTTP plumbing shared by the routes: body limits, auth, rate limit, error responses.

Why apart from the routes: every endpoint must treat a wrong content type, an
oversized body, a missing key or an exhausted rate limit identically, and every
error must leave as the same OpenAI-style body; routes then stay a few lines
each.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from seedcoder.api.gateway_config import GatewayConfig
from seedcoder.gateway.auth import KeyStore, bearer
from seedcoder.gateway.errors import (
    GatewayError,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    UnsupportedMediaType,
)
from seedcoder.gateway.feedback import FeedbackStore, RecentCompletions
from seedcoder.gateway.limits import RateLimiter
from seedcoder.gateway.metrics import Metrics
from seedcoder.gateway.routing import Pool
from seedcoder.gateway.service import CompletionService

log = logging.getLogger("seedcoder.gateway")


@dataclass(slots=True)
class GatewayDeps:
    """Everything the routes use, built once at start-up (no global singletons)."""

    cfg: GatewayConfig
    service: CompletionService
    pools: list[Pool]
    keys: KeyStore
    limiter: RateLimiter
    metrics: Metrics
    feedback: FeedbackStore
    recent: RecentCompletions
    started: int


def deps(request: Request) -> GatewayDeps:
    found: GatewayDeps = request.app.state.deps
    return found


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def error_response(err: GatewayError, metrics: Metrics | None = None) -> Response:
    if metrics is not None:
        metrics.errors.labels(err.metric).inc()
    return Response(
        err.json_bytes(), status_code=err.status, headers=err.headers(), media_type="application/json"
    )


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The raw JSON body, refusing wrong content types and bodies over ``max_bytes``."""
    ctype = request.headers.get("content-type", "")
    if ctype.split(";")[0].strip().lower() != "application/json":
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, not {ctype or 'missing'!r}",
            code="unsupported_media_type",
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"Request body exceeds {max_bytes} bytes", code="request_too_large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"Request body exceeds {max_bytes} bytes", code="request_too_large")
        chunks.append(chunk)
    return b"".join(chunks)


def authorize(request: Request, d: GatewayDeps, *, limit: bool = True) -> str:
    """The caller's rate-limit identity; raises 401, or 429 unless ``limit`` is false."""
    if d.cfg.open_mode:
        identity = "open:" + (request.client.host if request.client else "unknown")
    else:
        token = bearer(request.headers.get("authorization")) or request.headers.get("x-api-key")
        if not token:
            raise Unauthorized("Missing API key: send 'Authorization: Bearer <key>'", code="missing_api_key")
        key_id = d.keys.check(token)
        if key_id is None:
            raise Unauthorized("Incorrect API key provided", code="invalid_api_key")
        identity = key_id
    if limit:
        rate_limit(d, identity)
    return identity


def rate_limit(d: GatewayDeps, identity: str) -> None:
    """Takes one request from the caller's bucket; raises 429 when it is empty."""
    wait = d.limiter.acquire(identity)
    if wait > 0:
        raise RateLimited(
            f"Rate limit reached ({d.cfg.rate_limit_rps:g} requests/s, burst {d.cfg.rate_limit_burst})",
            code="rate_limit_exceeded",
            retry_after=wait,
        )


Handler = Callable[[Request], Awaitable[Response]]


def guarded(endpoint: str, handler: Handler) -> Handler:
    """Turns any GatewayError (or crash) into the OpenAI error body; records metrics."""

    async def run(request: Request) -> Response:
        d = deps(request)
        started = time.perf_counter()
        request.state.received = started
        request.state.pool = "none"
        try:
            response = await handler(request)
        except GatewayError as err:
            response = error_response(err, d.metrics)
        except Exception:
            log.exception("Failed to serve %s.", endpoint)
            response = error_response(GatewayError("Internal error in the gateway"), d.metrics)
        if getattr(request.state, "streaming", False):
            return response  # the stream records its own outcome when it ends
        pool = request.state.pool
        d.metrics.requests.labels(pool, d.cfg.model_name, endpoint, str(response.status_code)).inc()
        d.metrics.e2e.labels(pool, d.cfg.model_name, endpoint).observe(time.perf_counter() - started)
        return response

    return run

"""Every error the gateway can answer with, and the ONE place upstream failures become HTTP.

Why one module: clients (the ``openai`` library, IDE plugins) key their retry
logic on the status code and the OpenAI error body, so the mapping from a Triton
timeout / lost connection / malformed answer to 504 / 503 / 502 must be the same
everywhere, streamed or not. Nothing here imports the web framework.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import grpc
from pydantic import ValidationError
from tritonclient.utils import InferenceServerException


class GatewayError(Exception):
    """An error with its HTTP status and OpenAI-style body fields."""

    status = 500
    type = "server_error"
    metric = "internal"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def json_bytes(self) -> bytes:
        return json.dumps(self.body(), ensure_ascii=False).encode("utf-8")

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"retry-after": str(max(1, int(self.retry_after + 0.999)))}


class InvalidRequest(GatewayError):
    status, type, metric = 400, "invalid_request_error", "invalid_request"


class Unauthorized(GatewayError):
    status, type, metric = 401, "authentication_error", "auth"


class NotFound(GatewayError):
    status, type, metric = 404, "invalid_request_error", "not_found"


class MethodNotAllowed(GatewayError):
    status, type, metric = 405, "invalid_request_error", "invalid_request"


class PayloadTooLarge(GatewayError):
    status, type, metric = 413, "invalid_request_error", "invalid_request"


class UnsupportedMediaType(GatewayError):
    status, type, metric = 415, "invalid_request_error", "invalid_request"


class RateLimited(GatewayError):
    status, type, metric = 429, "rate_limit_error", "rate_limited"


class BadGateway(GatewayError):
    status, type, metric = 502, "upstream_error", "bad_backend_response"


class BackendUnavailable(GatewayError):
    status, type, metric = 503, "service_unavailable", "backend_unavailable"


class BackendTimeout(GatewayError):
    status, type, metric = 504, "timeout_error", "timeout"


class StorageUnavailable(GatewayError):
    status, type, metric = 503, "service_unavailable", "feedback_write_failed"


def from_validation(exc: ValidationError) -> InvalidRequest:
    """A 400 naming the first offending field and what is wrong with it."""
    err = exc.errors(include_url=False)[0]
    parts = [str(p) for p in err.get("loc", ())]
    loc = parts[0] if parts else ""
    kind = err.get("type", "")
    if kind == "json_invalid":
        return InvalidRequest(f"Request body is not valid JSON: {err.get('msg', '')}", code="invalid_json")
    if kind == "extra_forbidden":
        return InvalidRequest(
            f"Unrecognized request argument supplied: {loc}", param=loc, code="unknown_field"
        )
    if kind == "missing":
        return InvalidRequest(f"Missing required parameter: {loc}", param=loc, code="missing_field")
    if kind == "model_type":
        return InvalidRequest("Request body must be a JSON object", code="invalid_body")
    where = f"'{loc}'" if loc else "request"
    return InvalidRequest(f"Invalid value for {where}: {err.get('msg', '')}", param=loc or None, code=kind)


_UNAVAILABLE_CODES = {"StatusCode.UNAVAILABLE", "StatusCode.CANCELLED", "StatusCode.ABORTED"}


def map_backend(exc: BaseException, pool: str) -> GatewayError:
    """Upstream timeout -> 504, connection failure -> 503, anything else upstream -> 502."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return BackendTimeout(f"Backend pool {pool!r} did not answer in time", code="backend_timeout")
    if isinstance(exc, grpc.aio.AioRpcError):
        status = str(exc.code())
        detail = exc.details() or status
    elif isinstance(exc, InferenceServerException):
        status = str(exc.status() or "")
        detail = exc.message() or str(exc)
    elif isinstance(exc, ConnectionError | OSError):
        return BackendUnavailable(f"Backend pool {pool!r} is unreachable: {exc}", code="backend_unavailable")
    else:
        return BadGateway(f"Backend pool {pool!r} failed: {type(exc).__name__}: {exc}", code="bad_backend")
    if status == "StatusCode.DEADLINE_EXCEEDED":
        return BackendTimeout(f"Backend pool {pool!r} timed out: {detail}", code="backend_timeout")
    if status in _UNAVAILABLE_CODES or "failed to connect" in detail.lower():
        return BackendUnavailable(
            f"Backend pool {pool!r} is unavailable: {detail}", code="backend_unavailable", retry_after=1
        )
    return BadGateway(f"Backend pool {pool!r} returned an error: {detail}", code="bad_backend")

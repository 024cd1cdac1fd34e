"""The HTTP endpoints: parse, authorize, call the service, render OpenAI / llama.cpp JSON or SSE.

Why thin: everything a completion means lives in ``service``; this module only
knows wire formats. Streamed answers go through ``sse.StreamResponse`` (which
cancels the backend when the client leaves); an error after the first byte is
sent as an OpenAI error event, never as a silently cut stream.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from seedcoder.gateway import llamacpp_wire, sse
from seedcoder.gateway.errors import GatewayError, InvalidRequest, StorageUnavailable, from_validation
from seedcoder.gateway.feedback import build_event
from seedcoder.gateway.http import GatewayDeps, authorize, deps, json_response, rate_limit, read_body
from seedcoder.gateway.jobs import Job, from_completion, from_infill
from seedcoder.gateway.protocol import CompletionRequest, FeedbackRequest, InfillRequest
from seedcoder.gateway.service import CompletionResult, Delta, Finish, Stream, Summary, new_id


def _ranking(result: CompletionResult) -> str:
    if len(result.choices) <= 1:
        return "none"
    return "mean_logprob" if all(c.cum_log_prob is not None for c in result.choices) else "heuristic"


def completion_body(r: CompletionResult) -> dict[str, Any]:
    return {
        "id": r.id,
        "object": "text_completion",
        "created": r.created,
        "model": r.model,
        "choices": [
            {"text": c.text, "index": i, "logprobs": None, "finish_reason": c.finish_reason}
            for i, c in enumerate(r.choices)
        ],
        "usage": {
            "prompt_tokens": r.prompt_tokens,
            "completion_tokens": r.completion_tokens,
            "total_tokens": r.prompt_tokens + r.completion_tokens,
            "prompt_tokens_trimmed": r.trimmed_tokens,
        },
        "seedcoder": {
            "pool": r.pool,
            "cached": r.cached,
            "ranking": _ranking(r),
            "scores": [round(c.score, 4) for c in r.choices],
            **({"scan": r.scan.wire()} if r.scan is not None else {}),
        },
    }


def _headers(pool: str, trimmed: int) -> dict[str, str]:
    return {"x-seedcoder-pool": pool, "x-seedcoder-prompt-tokens-trimmed": str(trimmed)}


async def _parse(request: Request, d: GatewayDeps, model: type[Any], *, limit: bool = True) -> Any:
    body = await read_body(request, d.cfg.max_request_bytes)
    # After the size check, before any parsing; ``limit=False``: the route rate-limits itself.
    request.state.identity = authorize(request, d, limit=limit)
    if not body.strip():
        raise from_validation(_empty_error(model))
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(
            f"Request body is not valid UTF-8 (byte {exc.start}): JSON must be UTF-8", code="invalid_utf8"
        ) from None
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise from_validation(exc) from None


def _empty_error(model: type[Any]) -> ValidationError:
    try:
        model.model_validate_json(b"")
    except ValidationError as exc:
        return exc
    raise AssertionError("an empty body validated")


def _stream(
    request: Request, d: GatewayDeps, stream: Stream, render: Any, done: bytes | None
) -> sse.StreamResponse:
    started = request.state.received

    async def events() -> AsyncIterator[bytes]:
        code = "499"  # unless it ends normally or with an error event
        held = b""  # finish / usage events ride with the next text or the end: fewer writes
        try:
            async for ev in stream.events:
                chunk = render(stream, ev)
                if chunk is None:
                    continue
                if isinstance(ev, Delta):
                    yield held + chunk
                    held = b""
                else:
                    held += chunk
            yield held + (done or b"")
            code = "200"
        except GatewayError as err:
            code = str(err.status)
            d.metrics.errors.labels(err.metric).inc()
            yield held + sse.event(err.body())
        finally:
            await stream.events.aclose()
            d.metrics.requests.labels(stream.pool, d.cfg.model_name, request.state.endpoint, code).inc()
            d.metrics.e2e.labels(stream.pool, d.cfg.model_name, request.state.endpoint).observe(
                time.perf_counter() - started
            )

    def disconnected() -> None:
        d.metrics.cancellations.labels(stream.pool, "client_disconnect").inc()

    request.state.streaming = True
    hdrs = [(k.encode(), v.encode()) for k, v in _headers(stream.pool, stream.trimmed_tokens).items()]
    return sse.StreamResponse(events(), on_disconnect=disconnected, headers=hdrs)


def _openai_chunk(job: Job) -> Any:
    def render(s: Stream, ev: Delta | Finish | Summary) -> bytes | None:
        base: dict[str, Any] = {
            "id": s.id,
            "object": "text_completion",
            "created": s.created,
            "model": s.model,
        }
        if isinstance(ev, Delta):
            base["choices"] = [{"text": ev.text, "index": ev.index, "logprobs": None, "finish_reason": None}]
        elif isinstance(ev, Finish):
            base["choices"] = [{"text": "", "index": ev.index, "logprobs": None, "finish_reason": ev.reason}]
            if ev.findings:  # annotate: the candidate's findings ride on its finish event
                base["seedcoder"] = {
                    "scan": {"policy": "annotate", "findings": [f.wire() for f in ev.findings]}
                }
        elif job.include_usage:
            base["choices"] = []
            base["usage"] = {
                "prompt_tokens": ev.prompt_tokens,
                "completion_tokens": ev.completion_tokens,
                "total_tokens": ev.prompt_tokens + ev.completion_tokens,
                "prompt_tokens_trimmed": ev.trimmed_tokens,
            }
        else:
            return None
        return sse.event(base)

    return render


async def _run(request: Request, d: GatewayDeps, job: Job) -> CompletionResult:
    result: CompletionResult = await sse.run_until_disconnect(
        request.receive, d.service.complete(job, request.state.received)
    )
    request.state.pool = result.pool
    return result


async def completions(request: Request) -> Response:
    request.state.endpoint = "completions"
    d = deps(request)
    req: CompletionRequest = await _parse(request, d, CompletionRequest)
    job = from_completion(req, d.cfg, d.service.router, d.keys.team(request.state.identity))
    if job.stream:
        stream = await d.service.open_stream(job, request.state.received)
        request.state.pool = stream.pool
        return _stream(request, d, stream, _openai_chunk(job), sse.DONE)  # type: ignore[return-value]
    try:
        result = await _run(request, d, job)
    except sse.ClientGone:
        return Response(status_code=499)
    return json_response(completion_body(result), headers=_headers(result.pool, result.trimmed_tokens))


async def infill(request: Request) -> Response:
    request.state.endpoint = "infill"
    d = deps(request)
    req: InfillRequest = await _parse(request, d, InfillRequest, limit=False)
    job = from_infill(req, d.cfg, d.service.router, d.keys.team(request.state.identity))
    if job.warmup:  # llama.cpp's cache warm-up: answered at once, not counted against the rate limit
        return json_response(llamacpp_wire.warmup(new_id(), job.model, _elapsed(request)))
    rate_limit(d, request.state.identity)
    if job.stream:
        stream = await d.service.open_stream(job, request.state.received)
        request.state.pool = stream.pool
        reason = ["stop"]

        def render(s: Stream, ev: Delta | Finish | Summary) -> bytes | None:
            if isinstance(ev, Delta):
                return sse.event({"id": s.id, "content": ev.text, "stop": False})
            if isinstance(ev, Finish):
                reason[0] = ev.reason
                return None
            tokens = (ev.prompt_tokens, ev.completion_tokens, ev.trimmed_tokens)
            final = llamacpp_wire.infill_final(
                s.id, s.model, "", reason[0], *tokens, ev.first_token_s, _elapsed(request)
            )
            return sse.event(final)

        return _stream(request, d, stream, render, None)  # type: ignore[return-value]
    try:
        r = await _run(request, d, job)
    except sse.ClientGone:
        return Response(status_code=499)
    c = r.choices[0]
    body = llamacpp_wire.infill_final(
        r.id, r.model, c.text, c.finish_reason, r.prompt_tokens, r.completion_tokens, r.trimmed_tokens,
        r.first_token_s, _elapsed(request),
    )  # fmt: skip
    return json_response(body, headers=_headers(r.pool, r.trimmed_tokens))


def _elapsed(request: Request) -> float:
    return float(time.perf_counter() - request.state.received)


async def feedback(request: Request) -> Response:
    request.state.endpoint = "feedback"
    d = deps(request)
    req: FeedbackRequest = await _parse(request, d, FeedbackRequest)
    event_id = "fb-" + secrets.token_hex(12)
    event = build_event(event_id, req.model_dump(), d.recent.get(req.id), request.state.identity)
    try:
        stored = await d.feedback.append(event)
    except OSError as exc:
        raise StorageUnavailable(
            f"Feedback could not be stored: {exc.strerror or exc}", code="feedback_write_failed"
        ) from exc
    d.metrics.feedback.labels(req.outcome, feedback_adapter(d, event, request.state.identity)).inc()
    return json_response(
        {
            "object": "feedback",
            "id": event_id,
            "completion_id": req.id,
            "context_known": event["context_known"],
            "file": stored,
        },
        status=201,
    )


def feedback_adapter(d: GatewayDeps, event: dict[str, Any], identity: str) -> str:
    """The adapter label of a feedback event: the one that served the completion, if this
    replica remembers it, else the one the caller's team is routed to (what served it, unless
    the client named a model)."""
    model = event.get("model")
    if isinstance(model, str):
        return d.service.router.label_of(model)
    return d.service.router.route(None, d.keys.team(identity)).label


async def models(request: Request) -> Response:
    request.state.endpoint = "models"
    d = deps(request)
    authorize(request, d)
    return json_response({"object": "list", "data": d.service.router.listing(d.started)})


async def metrics(request: Request) -> Response:
    return Response(deps(request).metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    d = deps(request)
    # Ready means ordinary traffic can be served: a healthy candidate (an engine under
    # evaluation, answering pinned requests only) does not make the gateway ready.
    healthy = [p.name for p in d.service.router.traffic_pools(d.pools) if p.healthy]
    if not healthy:
        return json_response({"status": "unavailable", "healthy_pools": []}, status=503)
    return json_response({"status": "ready", "healthy_pools": healthy})

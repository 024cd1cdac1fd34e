"""From a validated wire request to one generation job, with the semantic checks.

Why separate from the wire models: ``/v1/completions`` and ``/infill`` speak
different dialects but ask for the same thing (prefix, optional suffix, limits,
sampling); the service works on this one normalised ``Job``. The checks here
need the configuration (model name, output limit, ``n`` limit) or say clearly
which OpenAI features are not supported, so the client learns why. The
``model`` names the base or an adapter, and may pin one pool with
``@<pool>`` (``gateway.adapters`` decides; ``/infill`` names no model, so it
is never pinned).
"""

from __future__ import annotations

from dataclasses import dataclass

from seedcoder.api.adapters import AdapterConfig
from seedcoder.api.gateway_config import GatewayConfig
from seedcoder.gateway.adapters import AdapterRouter
from seedcoder.gateway.errors import InvalidRequest
from seedcoder.gateway.fim import ExtraChunk, render_extra
from seedcoder.gateway.protocol import CompletionRequest, InfillRequest
from seedcoder.gateway.sampling import check_sampling


@dataclass(frozen=True, slots=True)
class Job:
    """One normalised request for ``n`` completions."""

    endpoint: str
    model: str
    prefix: str
    suffix: str | None
    extra: str
    max_tokens: int
    temperature: float | None
    top_p: float | None
    top_k: int | None
    seed: int | None
    n: int
    stop: tuple[str, ...]
    block_end: bool
    stream: bool
    include_usage: bool
    user: str | None
    min_p: float | None = None
    repetition_penalty: float | None = None
    n_indent: int = 0
    adapter: AdapterConfig | None = None  # None: the base model
    pool: str | None = None  # pinned by '<model>@<pool>': only that pool serves it; None: any but candidates

    @property
    def warmup(self) -> bool:
        """llama.cpp's ``n_predict: 0``: fill the cache, generate nothing."""
        return self.max_tokens == 0

    @property
    def fim(self) -> bool:
        return self.suffix is not None

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


def _unsupported(field: str, why: str) -> InvalidRequest:
    return InvalidRequest(f"'{field}' {why}", param=field, code="unsupported_parameter")


def from_completion(
    req: CompletionRequest, cfg: GatewayConfig, router: AdapterRouter | None = None, team: str | None = None
) -> Job:
    route = (router or AdapterRouter(cfg)).route(req.model, team)
    prompt = req.prompt if isinstance(req.prompt, str) else req.prompt[0]
    if not prompt and not req.suffix:
        raise InvalidRequest("'prompt' must not be empty (unless 'suffix' is given)", param="prompt")
    # Clamped, as OpenAI-compatible servers do: IDE clients send their own large defaults.
    max_tokens = min(16 if req.max_tokens is None else req.max_tokens, cfg.max_output_tokens)
    n = 1 if req.n is None else req.n
    if n > cfg.max_candidates:
        raise InvalidRequest(f"'n' is {n}; at most {cfg.max_candidates} is allowed", param="n")
    if req.echo:
        raise _unsupported("echo", "is not supported; send false or omit it")
    if req.logprobs is not None:
        raise _unsupported("logprobs", "is not supported; send null or omit it")
    if req.best_of is not None and req.best_of != n:
        raise _unsupported("best_of", "is only supported equal to 'n' (candidates are ranked; see docs)")
    for name, value in (
        ("presence_penalty", req.presence_penalty),
        ("frequency_penalty", req.frequency_penalty),
    ):
        if value not in (None, 0):
            raise _unsupported(name, "is not supported; send 0 or omit it")
    if req.logit_bias:
        raise _unsupported("logit_bias", "is not supported; send {} or omit it")
    stop = () if req.stop is None else ((req.stop,) if isinstance(req.stop, str) else tuple(req.stop))
    check_sampling(
        cfg, {"top_k": req.top_k, "min_p": req.min_p, "repetition_penalty": req.repetition_penalty}
    )
    return Job(
        endpoint="completions",
        model=route.model,
        prefix=prompt,
        suffix=req.suffix,
        extra="",
        max_tokens=max_tokens,
        temperature=None if req.temperature is None else float(req.temperature),
        top_p=None if req.top_p is None else float(req.top_p),
        top_k=req.top_k if req.top_k and req.top_k > 0 else None,
        seed=req.seed,
        n=n,
        stop=tuple(s for s in stop if s),
        block_end=bool(req.seedcoder and req.seedcoder.stop_at_block_end),
        stream=bool(req.stream),
        include_usage=bool(req.stream_options and req.stream_options.include_usage),
        user=req.user,
        min_p=None if req.min_p is None else float(req.min_p),
        repetition_penalty=None if req.repetition_penalty is None else float(req.repetition_penalty),
        adapter=route.adapter,
        pool=route.pool,
    )


def from_infill(
    req: InfillRequest, cfg: GatewayConfig, router: AdapterRouter | None = None, team: str | None = None
) -> Job:
    route = (router or AdapterRouter(cfg)).route(None, team)  # /infill names no model: the team decides
    # -1: as much as allowed; 0: a warm-up (nothing generated); more than allowed: clamped (llama.cpp).
    n_predict = cfg.max_output_tokens if req.n_predict == -1 else min(req.n_predict, cfg.max_output_tokens)
    prefix = req.input_prefix + req.prompt
    check_sampling(cfg, {"top_k": req.top_k, "min_p": req.min_p, "repeat_penalty": req.repeat_penalty})
    if not prefix and not req.input_suffix and n_predict > 0:
        raise InvalidRequest(
            "'input_prefix', 'prompt' and 'input_suffix' are all empty", param="input_prefix"
        )
    extra = render_extra([ExtraChunk(e.filename, e.text) for e in req.input_extra])
    return Job(
        endpoint="infill",
        model=route.model,
        prefix=prefix,
        suffix=req.input_suffix,
        extra=extra,
        max_tokens=n_predict,
        temperature=None if req.temperature is None else float(req.temperature),
        top_p=None if req.top_p is None else float(req.top_p),
        top_k=req.top_k or None,
        seed=None if req.seed is None or req.seed < 0 else req.seed,
        n=1,
        stop=tuple(s for s in req.stop if s),
        block_end=req.stop_at_block_end,
        stream=req.stream,
        include_usage=False,
        user=None,
        min_p=None if req.min_p is None else float(req.min_p),
        repetition_penalty=None if req.repeat_penalty is None else float(req.repeat_penalty),
        n_indent=req.n_indent,
        adapter=route.adapter,
    )

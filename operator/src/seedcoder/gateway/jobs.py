"""From a validated wire request to one generation job, with the semantic checks.

Why separate from the wire models: ``/v1/completions`` and ``/infill`` speak
different dialects but ask for the same thing (prefix, optional suffix, limits,
sampling); the service works on this one normalised ``Job``. The checks here
need the configuration (model name, output limit, ``n`` limit) or say clearly
which OpenAI features are not supported, so the client learns why.
"""

from __future__ import annotations

from dataclasses import dataclass

from seedcoder.api.gateway_config import GatewayConfig
from seedcoder.gateway.errors import InvalidRequest, NotFound
from seedcoder.gateway.fim import ExtraChunk, render_extra
from seedcoder.gateway.protocol import CompletionRequest, InfillRequest


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

    @property
    def fim(self) -> bool:
        return self.suffix is not None

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


def _unsupported(field: str, why: str) -> InvalidRequest:
    return InvalidRequest(f"'{field}' {why}", param=field, code="unsupported_parameter")


def from_completion(req: CompletionRequest, cfg: GatewayConfig) -> Job:
    if req.model != cfg.model_name:
        raise NotFound(
            f"The model '{req.model}' does not exist; this gateway serves '{cfg.model_name}'",
            param="model",
            code="model_not_found",
        )
    prompt = req.prompt if isinstance(req.prompt, str) else req.prompt[0]
    if not prompt and not req.suffix:
        raise InvalidRequest("'prompt' must not be empty (unless 'suffix' is given)", param="prompt")
    max_tokens = 16 if req.max_tokens is None else req.max_tokens
    if max_tokens > cfg.max_output_tokens:
        raise InvalidRequest(
            f"'max_tokens' is {max_tokens}; this gateway allows at most {cfg.max_output_tokens}",
            param="max_tokens",
            code="max_tokens_too_large",
        )
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
    return Job(
        endpoint="completions",
        model=cfg.model_name,
        prefix=prompt,
        suffix=req.suffix,
        extra="",
        max_tokens=max_tokens,
        temperature=None if req.temperature is None else float(req.temperature),
        top_p=None if req.top_p is None else float(req.top_p),
        top_k=None,
        seed=req.seed,
        n=n,
        stop=tuple(s for s in stop if s),
        block_end=bool(req.seedcoder and req.seedcoder.stop_at_block_end),
        stream=bool(req.stream),
        include_usage=bool(req.stream_options and req.stream_options.include_usage),
        user=req.user,
    )


def from_infill(req: InfillRequest, cfg: GatewayConfig) -> Job:
    n_predict = cfg.max_output_tokens if req.n_predict in (-1, 0) else req.n_predict
    if n_predict > cfg.max_output_tokens:
        raise InvalidRequest(
            f"'n_predict' is {n_predict}; this gateway allows at most {cfg.max_output_tokens}",
            param="n_predict",
        )
    prefix = req.input_prefix + req.prompt
    if not prefix and not req.input_suffix:
        raise InvalidRequest(
            "'input_prefix', 'prompt' and 'input_suffix' are all empty", param="input_prefix"
        )
    extra = render_extra([ExtraChunk(e.filename, e.text) for e in req.input_extra])
    return Job(
        endpoint="infill",
        model=cfg.model_name,
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
    )

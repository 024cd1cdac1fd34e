"""Turning a job into the model's prompt: FIM template, context budget, pool choice.

Why here and not in the service: this is the only step that may call the
tokenizer, and it runs before any generation. The budget for the prompt is
``max_context_tokens - max_tokens`` (room is left for the answer). Tokens are
counted with the model's real tokenizer (Triton model ``seedcoder_tokenize``)
only when the prompt's UTF-8 length exceeds the budget (or the smallest pool
limit); a byte-level BPE never makes more tokens than bytes (one is allowed for
BOS). Trimming keeps the lines nearest the cursor (see ``context``) and repeats
with a tighter byte budget, at most four times, until the count fits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from seedcoder.api.gateway_config import GatewayConfig
from seedcoder.gateway.context import trim_around_cursor
from seedcoder.gateway.errors import BackendUnavailable, InvalidRequest, map_backend
from seedcoder.gateway.fim import render_fim
from seedcoder.gateway.jobs import Job
from seedcoder.gateway.routing import Pool, choose, smallest_limit


@dataclass(frozen=True, slots=True)
class Prepared:
    """The prompt the model will see and where it goes."""

    prompt: str
    prefix: str
    suffix: str | None
    pool: Pool
    prompt_tokens: int | None
    trimmed_tokens: int


def render(job: Job, cfg: GatewayConfig, prefix: str, suffix: str | None, extra: str) -> str:
    if suffix is None:
        return extra + prefix
    return render_fim(cfg.fim.template, extra + prefix, suffix)


def _nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


def _no_pool() -> BackendUnavailable:
    return BackendUnavailable("No healthy backend pool is available", code="no_healthy_pool", retry_after=1)


async def prepare(job: Job, cfg: GatewayConfig, pools: Sequence[Pool]) -> Prepared:
    budget = cfg.max_context_tokens - job.max_tokens
    if budget < 16:
        raise InvalidRequest(
            f"'max_tokens' leaves no room for a prompt within the {cfg.max_context_tokens}-token context",
            param="max_tokens",
        )
    prefix, suffix, extra = job.prefix, job.suffix, job.extra
    prompt = render(job, cfg, prefix, suffix, extra)
    nbytes = _nbytes(prompt) + 1
    limit = smallest_limit(pools)
    if nbytes <= budget and (limit is None or nbytes <= limit):
        pool = choose(pools, None)
        if pool is None:
            raise _no_pool()
        return Prepared(prompt, prefix, suffix, pool, None, 0)

    counter = choose(pools, None)
    counter_ep = counter.pick() if counter is not None else None
    if counter is None or counter_ep is None:
        raise _no_pool()
    try:
        tokens = await counter_ep.backend.count_tokens(prompt)
        original = tokens
        target = budget
        for _ in range(4):
            if tokens <= budget:
                break
            per_byte = tokens / max(_nbytes(prompt), 1)
            overhead = _nbytes(render(job, cfg, "", "" if suffix is not None else None, ""))
            room = int(target / per_byte) - overhead
            kept = trim_around_cursor(prefix, suffix or "", extra, max(room, 0))
            prefix, extra = kept.prefix, kept.extra
            suffix = kept.suffix if suffix is not None else None
            prompt = render(job, cfg, prefix, suffix, extra)
            tokens = await counter_ep.backend.count_tokens(prompt)
            target = int(target * budget / max(tokens, 1) * 0.97)
    except Exception as exc:
        raise map_backend(exc, counter.name) from exc
    if tokens > budget:
        raise InvalidRequest("The prompt could not be trimmed to the context budget", param="prompt")
    pool = choose(pools, tokens)
    if pool is None:
        raise _no_pool()
    return Prepared(prompt, prefix, suffix, pool, tokens, original - tokens)

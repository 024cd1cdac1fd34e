"""Turning a job into the model's prompt: FIM template, context budget, pool choice.

Why here and not in the service: this is the only step that may call the
tokenizer, and it runs before any generation. The budget for the prompt is
``max_context_tokens - max_tokens`` (room is left for the answer). Tokens are
counted with the model's real tokenizer (Triton model ``seedcoder_tokenize``)
only when the prompt's UTF-8 length exceeds the budget (or the smallest pool
limit); a byte-level BPE never makes more tokens than bytes (one is allowed for
BOS). Trimming keeps the lines nearest the cursor (see ``context``), after the
imports, enclosing definitions and used names (``relevance``, the default), and
repeats with a tighter byte budget, at most four times, until the count fits.

Retrieved chunks (``seedcoder.retrieval``, when configured) go first in the
prompt, ahead of IDE-sent files and the prefix. They take at most their share
of the budget (``retrieval.budget_fraction``); the trimmer works on the code
within the rest, so neither side can crowd out the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from seedcoder.api.gateway_config import GatewayConfig
from seedcoder.gateway.context import Trimmed, trim_around_cursor
from seedcoder.gateway.errors import BackendUnavailable, InvalidRequest, map_backend
from seedcoder.gateway.fim import render_fim
from seedcoder.gateway.jobs import Job
from seedcoder.gateway.relevance import trim_relevant
from seedcoder.gateway.routing import Pool, choose, smallest_limit
from seedcoder.retrieval.chunks import Chunk
from seedcoder.retrieval.place import block
from seedcoder.retrieval.retriever import Retrieved, Retriever


@dataclass(frozen=True, slots=True)
class Prepared:
    """The prompt the model will see and where it goes."""

    prompt: str
    prefix: str
    suffix: str | None
    pool: Pool
    prompt_tokens: int | None
    trimmed_tokens: int
    retrieved: Retrieved | None = None
    retrieved_tokens: int = 0
    """Tokens the retrieved chunks take (estimated from the prompt's measured tokens per byte)."""


def render(job: Job, cfg: GatewayConfig, prefix: str, suffix: str | None, extra: str) -> str:
    if suffix is None:
        return extra + prefix
    return render_fim(cfg.fim.template, extra + prefix, suffix)


def _nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


def _no_pool() -> BackendUnavailable:
    return BackendUnavailable("No healthy backend pool is available", code="no_healthy_pool", retry_after=1)


def _trim(cfg: GatewayConfig, prefix: str, suffix: str, extra: str, room: int) -> Trimmed:
    if cfg.trim == "relevance":
        return trim_relevant(prefix, suffix, extra, room)
    return trim_around_cursor(prefix, suffix, extra, room)


def _fit(chunks: Sequence[Chunk], room: int) -> tuple[list[Chunk], str]:
    """The best of ``chunks`` (given best first) within ``room`` bytes, and their prompt text."""
    kept: list[Chunk] = []
    used = 0
    for c in chunks:
        size = _nbytes(block(c))
        if used + size <= room:
            kept.append(c)
            used += size
    return kept, "".join(block(c) for c in reversed(kept))


def _retrieved_tokens(context: str, tokens: int | None, prompt: str, cfg: GatewayConfig) -> int:
    if not context:
        return 0
    if tokens is not None:
        return round(_nbytes(context) * tokens / max(_nbytes(prompt), 1))
    per_token = cfg.retrieval.bytes_per_token if cfg.retrieval is not None else 3.0
    return round(_nbytes(context) / per_token)


async def prepare(
    job: Job, cfg: GatewayConfig, pools: Sequence[Pool], retriever: Retriever | None = None
) -> Prepared:
    budget = cfg.max_context_tokens - job.max_tokens
    if budget < 16:
        raise InvalidRequest(
            f"'max_tokens' leaves no room for a prompt within the {cfg.max_context_tokens}-token context",
            param="max_tokens",
        )
    prefix, suffix, extra = job.prefix, job.suffix, job.extra
    found: Retrieved | None = None
    context = ""
    if retriever is not None:
        found = retriever.retrieve(
            prefix, suffix or "", extra + prefix + (suffix or ""), retriever.budget_bytes(budget)
        )
        context = found.text
    prompt = render(job, cfg, prefix, suffix, context + extra)
    nbytes = _nbytes(prompt) + 1
    limit = smallest_limit(pools)
    if nbytes <= budget and (limit is None or nbytes <= limit):
        pool = choose(pools, None)
        if pool is None:
            raise _no_pool()
        tokens_added = _retrieved_tokens(context, None, prompt, cfg)
        return Prepared(prompt, prefix, suffix, pool, None, 0, found, tokens_added)

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
            if found is not None and found.chunks and cfg.retrieval is not None:
                share = int(room * cfg.retrieval.budget_fraction)
                kept_chunks, context = _fit(found.chunks, share)
                found = Retrieved(context, kept_chunks, found.seconds, found.available)
            kept = _trim(cfg, prefix, suffix or "", extra, max(room - _nbytes(context), 0))
            prefix, extra = kept.prefix, kept.extra
            suffix = kept.suffix if suffix is not None else None
            prompt = render(job, cfg, prefix, suffix, context + extra)
            tokens = await counter_ep.backend.count_tokens(prompt)
            target = int(target * budget / max(tokens, 1) * 0.97)
    except Exception as exc:
        raise map_backend(exc, counter.name) from exc
    if tokens > budget:
        raise InvalidRequest("The prompt could not be trimmed to the context budget", param="prompt")
    pool = choose(pools, tokens)
    if pool is None:
        raise _no_pool()
    tokens_added = _retrieved_tokens(context, tokens, prompt, cfg)
    return Prepared(prompt, prefix, suffix, pool, tokens, max(original - tokens, 0), found, tokens_added)

"""One retrieval for one prompt: query, search, select, render; timed.

Why a class over the pure pieces: the gateway holds one ``Retriever`` per
process; it owns the live index (reopened when a new build is published) and
nothing else, so the prompt step calls one method and gets text plus figures
for the metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from seedcoder.api.retrieval import RetrievalConfig
from seedcoder.retrieval.chunks import Chunk
from seedcoder.retrieval.index import LiveIndex
from seedcoder.retrieval.place import render, select
from seedcoder.retrieval.query import cursor_query


@dataclass(frozen=True, slots=True)
class Retrieved:
    text: str
    chunks: list[Chunk] = field(default_factory=list)
    seconds: float = 0.0
    available: bool = True
    """False when no index could be opened (nothing was searched)."""


class Retriever:
    def __init__(self, cfg: RetrievalConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self.live = LiveIndex(Path(cfg.index_dir), cfg.reload_s)
        self._clock = clock

    def budget_bytes(self, prompt_budget_tokens: int) -> int:
        """The retrieved share of a prompt budget, in bytes (an estimate until tokens are counted)."""
        return int(prompt_budget_tokens * self.cfg.budget_fraction * self.cfg.bytes_per_token)

    def retrieve(self, prefix: str, suffix: str, context: str, budget_bytes: int) -> Retrieved:
        """Chunks for the cursor at the end of ``prefix``; ``context`` is what the prompt already holds."""
        started = time.perf_counter()
        reader = self.live.refresh(self._clock())
        if reader is None or self.cfg.max_chunks == 0 or budget_bytes <= 0:
            return Retrieved("", [], time.perf_counter() - started, reader is not None)
        query = cursor_query(prefix, suffix)
        hits = reader.search(query.terms, self.cfg.candidates, query.partial)
        chosen = select(hits, context, budget_bytes, self.cfg.max_chunks)
        return Retrieved(render(chosen), chosen, time.perf_counter() - started)

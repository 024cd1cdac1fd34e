"""Putting retrieved chunks into the prompt: deduplicated, ranked, within a byte budget.

Why here and not in the trimmer: what the model sees first is furthest from the
cursor, so chunks go in reverse rank order (the best one nearest the code),
each under the same ``# file:`` header that ``input_extra`` files get. A chunk
whose signature the prompt already contains (the definition is in the open
file or in an IDE-sent file) is skipped, and so are repeats.
"""

from __future__ import annotations

from collections.abc import Sequence

from seedcoder.retrieval.chunks import Chunk
from seedcoder.retrieval.index import Hit


def _norm(text: str) -> str:
    return " ".join(text.split())


def header(chunk: Chunk) -> str:
    where = f"{chunk.path}:{chunk.start_line}" if chunk.start_line > 1 else chunk.path
    return f"# file: {where}\n"


def block(chunk: Chunk) -> str:
    body = chunk.text if chunk.text.endswith("\n") else chunk.text + "\n"
    return header(chunk) + body + "\n"


def select(hits: Sequence[Hit], prompt: str, budget_bytes: int, max_chunks: int) -> list[Chunk]:
    """Chunks to add, best first: not already in ``prompt``, no repeats, within ``budget_bytes``."""
    seen_prompt = _norm(prompt)
    chosen: list[Chunk] = []
    keys: set[str] = set()
    used = 0
    for hit in hits:
        c = hit.chunk
        if len(chosen) >= max_chunks:
            break
        sig = _norm(c.signature)
        if c.key in keys or (sig and len(sig) > 8 and sig in seen_prompt) or _norm(c.text) in seen_prompt:
            continue
        size = len(block(c).encode("utf-8"))
        if used + size > budget_bytes:
            continue
        chosen.append(c)
        keys.add(c.key)
        used += size
    return chosen


def render(chunks: Sequence[Chunk]) -> str:
    """The prompt text for ``chunks`` (given best first): best placed last, nearest the code."""
    return "".join(block(c) for c in reversed(chunks))

"""The unit of retrieval: one definition of code or one section of documentation."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

MAX_CHUNK_BYTES = 4000
"""A chunk longer than this keeps its head (signature, docstring, first lines)."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """A definition (function, method, class, type) or a documentation section."""

    path: str
    """Path inside its source, prefixed with the source name (``payments/src/ledger.py``)."""
    kind: str
    """``function``, ``method``, ``class``, ``type``, ``section`` or ``operation``."""
    symbol: str
    """Qualified name (``Ledger.post``), heading path or ``GET /accounts``."""
    signature: str
    docstring: str
    text: str
    start_line: int
    """1-based line of the chunk in its file."""
    language: str

    @property
    def key(self) -> str:
        """Stable identity (path, symbol, line): the same definition in two sources is two chunks."""
        raw = f"{self.path}\x00{self.symbol}\x00{self.start_line}".encode()
        return hashlib.sha1(raw, usedforsecurity=False).hexdigest()[:16]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chunk:
        return cls(**data)


def clip(text: str, limit: int = MAX_CHUNK_BYTES) -> str:
    """``text`` cut at a line end within ``limit`` UTF-8 bytes (the head is the useful part)."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    head = raw[:limit].decode("utf-8", errors="ignore")
    cut = head.rfind("\n")
    return (head[:cut] if cut > 0 else head) + "\n..."

"""The seam for an optional embedding (vector) index beside the lexical one.

Why only an interface: no embedding model ships with the product, and a fake
one would make recall figures meaningless. A deployment that has an embedding
service implements ``Embedder`` (texts to unit vectors) and ``VectorIndex``
(nearest chunks for a vector); ``fuse`` merges its ranking with BM25's by
reciprocal rank, so either list alone still works.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from seedcoder.retrieval.index import Hit


class Embedder(Protocol):
    dimensions: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class VectorIndex(Protocol):
    def nearest(self, vector: Sequence[float], k: int) -> list[Hit]: ...


def fuse(rankings: Sequence[Sequence[Hit]], k: int, c: float = 60.0) -> list[Hit]:
    """Reciprocal-rank fusion of several rankings of the same chunks (keyed by ``Chunk.key``)."""
    scores: dict[str, float] = {}
    first: dict[str, Hit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking):
            scores[hit.chunk.key] = scores.get(hit.chunk.key, 0.0) + 1.0 / (c + rank + 1)
            first.setdefault(hit.chunk.key, hit)
    order = sorted(scores, key=lambda key: -scores[key])[:k]
    return [Hit(first[key].chunk, scores[key]) for key in order]

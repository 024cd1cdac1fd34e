"""Exact and near-duplicate detection for FIM samples (MinHash over token shingles).

Developers accept the same completion in the same place many times (a reopened
file, a copied block); trained on as is, those repeats teach the model to parrot.
Exact duplicates compare a hash of the whitespace-normalised sample. Near
duplicates compare the hole's neighbourhood (the end of the prefix, the middle,
the start of the suffix) as sets of 5-token shingles: a 64-value MinHash
signature (multiply-shift hashing of 64-bit shingle hashes, vectorised with
NumPy: about a millisecond per sample) estimates their Jaccard similarity, locality-sensitive hashing (8
bands of 8 rows) finds candidate pairs without comparing every pair, and a
candidate is a duplicate when its estimate reaches the threshold.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

_TOKEN = re.compile(r"\w+|[^\w\s]")
NUM_PERM = 64
BANDS = 8
ROWS = NUM_PERM // BANDS
SHINGLE = 5
WINDOW_CHARS = 600


def _h(data: str) -> int:
    return int.from_bytes(hashlib.blake2b(data.encode("utf-8"), digest_size=8).digest(), "big")


# fixed, seeded hash functions h(x) = (a*x + b mod 2**64) >> 32 with odd a: signatures are
# comparable across runs and snapshots
_A = np.array([_h(f"a{i}") | 1 for i in range(NUM_PERM)], dtype=np.uint64)[:, None]
_B = np.array([_h(f"b{i}") for i in range(NUM_PERM)], dtype=np.uint64)[:, None]
_SHIFT = np.uint64(32)


def exact_key(prefix: str, middle: str, suffix: str) -> str:
    """Equal for samples that differ only in whitespace."""
    parts = (" ".join(p.split()) for p in (prefix, middle, suffix))
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()


def neighbourhood(prefix: str, middle: str, suffix: str) -> str:
    return prefix[-WINDOW_CHARS:] + middle + suffix[:WINDOW_CHARS]


def shingles(text: str) -> set[int]:
    tokens = _TOKEN.findall(text)
    if len(tokens) <= SHINGLE:
        return {_h(" ".join(tokens))}
    return {_h(" ".join(tokens[i : i + SHINGLE])) for i in range(len(tokens) - SHINGLE + 1)}


def signature(features: set[int]) -> tuple[int, ...]:
    x = np.fromiter(features, dtype=np.uint64, count=len(features))[None, :]
    mins = ((_A * x + _B) >> _SHIFT).min(axis=1)  # uint64 arithmetic wraps: mod 2**64
    return tuple(int(v) for v in mins)


def similarity(a: Sequence[int], b: Sequence[int]) -> float:
    """Estimated Jaccard similarity of the shingle sets behind two signatures."""
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def jaccard(a: set[int], b: set[int]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


class NearDuplicateIndex:
    """Signatures seen so far; ``add`` answers whether a new one is a near duplicate of any."""

    def __init__(self, threshold: float = 0.8) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"near-duplicate threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold
        self._buckets: dict[tuple[int, bytes], list[int]] = defaultdict(list)
        self._signatures: list[tuple[int, ...]] = []

    def add(self, text: str) -> bool:
        """True (and not added) when ``text`` is a near duplicate of an earlier one."""
        sig = signature(shingles(text))
        keys = [
            (
                band,
                hashlib.blake2b(repr(sig[band * ROWS : (band + 1) * ROWS]).encode(), digest_size=8).digest(),
            )
            for band in range(BANDS)
        ]
        candidates = {i for key in keys for i in self._buckets.get(key, ())}
        if any(similarity(sig, self._signatures[i]) >= self.threshold for i in candidates):
            return True
        index = len(self._signatures)
        self._signatures.append(sig)
        for key in keys:
            self._buckets[key].append(index)
        return False

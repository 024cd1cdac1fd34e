"""Log-normal noise on iteration times, drawn in blocks for speed.

Why: real iteration times jitter (kernels, scheduling); the benchmark adds ±10 %
log-normal noise so that policies are not tuned to a deterministic plant. A
stretch of ``k`` iterations gets one draw with sigma/sqrt(k) (the sum of k
independent draws concentrates).
"""

from __future__ import annotations

import math

import numpy as np


class Noise:
    """Seeded source of multiplicative ``exp(N(0, sigma))`` factors."""

    __slots__ = ("_buf", "_i", "_rng", "sigma")

    def __init__(self, seed: int, sigma: float = 0.1) -> None:
        self._rng = np.random.default_rng(seed)
        self.sigma = sigma
        self._buf: list[float] = []
        self._i = 0

    def _normal(self) -> float:
        if self._i >= len(self._buf):
            self._buf = self._rng.standard_normal(65536).tolist()
            self._i = 0
        z = self._buf[self._i]
        self._i += 1
        return z

    def factor(self, k: int = 1) -> float:
        if self.sigma == 0.0:
            return 1.0
        s = self.sigma if k <= 1 else self.sigma / math.sqrt(k)
        return math.exp(s * self._normal() - 0.5 * s * s)

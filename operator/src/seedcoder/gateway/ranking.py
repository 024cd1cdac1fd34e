"""Choosing and ordering ``n`` candidate completions, as pure code.

Why: an IDE shows one suggestion (or a short list); duplicates and empty
completions waste it. Candidates are de-duplicated on their text with trailing
whitespace removed, empty (whitespace-only) ones are dropped, and the rest are
ordered by a stated score, best first:

* when every surviving candidate carries the backend's ``cum_log_prob``: the
  **mean token log-probability** ``cum_log_prob / completion_tokens`` (higher is
  better; length-normalised so short completions are not favoured merely for
  being short);
* otherwise a **length-normalised heuristic**: ``votes + 0.5·[finished by a stop]
  + 0.25·min(1, non-blank characters / 80)``, where ``votes`` is how many of the
  ``n`` samples produced this text (agreement between samples is the strongest
  signal available without log-probabilities), a completion that ended on its
  own beats one cut by ``max_tokens``, and, last, longer (up to a line's worth)
  beats shorter.

Ties keep generation order. When every candidate is empty, the first one is
returned alone so that the client still gets a well-formed answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Candidate:
    """One generated completion."""

    text: str
    finish_reason: str
    completion_tokens: int
    cum_log_prob: float | None = None
    votes: int = 1
    score: float = 0.0


def _heuristic(c: Candidate) -> float:
    nonblank = sum(1 for ch in c.text if not ch.isspace())
    return c.votes + (0.5 if c.finish_reason == "stop" else 0.0) + 0.25 * min(1.0, nonblank / 80)


def rank(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Unique, non-empty candidates, best first, each with its ``votes`` and ``score`` set."""
    if not candidates:
        return []
    unique: dict[str, Candidate] = {}
    for cand in candidates:
        key = cand.text.rstrip()
        if not key.strip():
            continue
        seen = unique.get(key)
        unique[key] = cand if seen is None else replace(seen, votes=seen.votes + 1)
    if not unique:
        return [replace(candidates[0], score=0.0)]
    survivors = list(unique.values())
    if all(c.cum_log_prob is not None for c in survivors):
        scored = [
            replace(c, score=float(c.cum_log_prob or 0.0) / max(c.completion_tokens, 1)) for c in survivors
        ]
    else:
        scored = [replace(c, score=_heuristic(c)) for c in survivors]
    return sorted(scored, key=lambda c: -c.score)

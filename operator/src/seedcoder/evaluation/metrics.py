"""Scores of one generated middle against the expected one, and their aggregation.

Exact match and edit similarity follow the usual code-completion evaluations
(CrossCodeEval, HumanEval-infilling): both compare the texts with trailing
whitespace of each line and surrounding blank lines removed, because an editor
shows the same code either way. Edit similarity is ``1 - levenshtein / max_len``
over characters; pass@1 is the share of tasks with tests whose filled program
passed them (one greedy sample each, so pass@1 is that share exactly).
"""

from __future__ import annotations

from collections.abc import Sequence


def normalise(text: str) -> str:
    """Text as an editor shows it: no trailing spaces per line, no surrounding blank lines."""
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions) between two strings."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def exact_match(generated: str, expected: str) -> bool:
    return normalise(generated) == normalise(expected)


def edit_similarity(generated: str, expected: str) -> float:
    """1.0 for identical texts, 0.0 when nothing is shared; both normalised first."""
    g, e = normalise(generated), normalise(expected)
    longest = max(len(g), len(e))
    if longest == 0:
        return 1.0
    return 1.0 - levenshtein(g, e) / longest


def mean(values: Sequence[float]) -> float | None:
    """The mean, or None for no values (a task set without tests has no pass@1)."""
    return sum(values) / len(values) if values else None

"""What the cursor needs: a weighted query from the code around it.

Why weights: the half-typed name at the cursor and the names called on the
cursor's lines say most about which definition the completion needs; the
file's imports and the enclosing signature say which library is in play; the
first lines after the cursor help a little. Each identifier counts whole and,
at half weight, as its sub-words (``tokens``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from seedcoder.retrieval.tokens import STOP, identifiers, subwords

NEAR_LINES = 8
MAX_TERMS = 24
_IMPORT = re.compile(r"^\s*(?:from\s+\S+\s+import\b|import\b|#include\b|using\b|use\b|require\b)")
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*[(.]")
_PARTIAL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
_DEF = re.compile(r"^\s*(?:export\s+)?(?:async\s+)?(?:def|class|function|func|fn|interface|struct)\b")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def import_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if _IMPORT.match(line)]


def enclosing_headers(lines: list[str]) -> list[int]:
    """Indices of the definition lines that enclose the last line (innermost last)."""
    if not lines:
        return []
    last = lines[-1]
    level = _indent(last) if last.strip() else None
    found: list[int] = []
    for i in range(len(lines) - 2, -1, -1):
        line = lines[i]
        if not line.strip():
            continue
        indent = _indent(line)
        if level is None:
            level = indent + 1  # a blank cursor line sits inside the block above it
        if indent < level:
            if _DEF.match(line):
                found.append(i)
            level = indent
            if indent == 0:
                break
    return list(reversed(found))


@dataclass(frozen=True, slots=True)
class Query:
    terms: list[tuple[str, float]]
    """Weighted index terms, strongest first."""
    partial: str | None = None
    """The half-typed name at the cursor (lower case, 3+ characters): matched as a name prefix."""


def partial_name(prefix: str) -> str | None:
    m = _PARTIAL.search(prefix.rsplit("\n", 1)[-1])
    word = m.group(0).lower() if m else ""
    return word if len(word) >= 3 and word not in STOP else None


def cursor_query(prefix: str, suffix: str) -> Query:
    """What to search for the cursor at the end of ``prefix``."""
    return Query(build_query(prefix, suffix), partial_name(prefix))


def build_query(prefix: str, suffix: str) -> list[tuple[str, float]]:
    """Weighted index terms, strongest first, at most ``MAX_TERMS``."""
    weights: dict[str, float] = defaultdict(float)

    def add(text: str, weight: float, *, calls_only: bool = False) -> None:
        names = _CALL.findall(text) if calls_only else identifiers(text)
        for ident in names:
            whole = ident.lower().strip("_")
            if not whole or whole in STOP or whole.isdigit() or len(whole) < 2:
                continue
            weights[whole] += weight
            parts = subwords(ident)
            if len(parts) > 1:
                for p in parts:
                    if p not in STOP and len(p) > 1:
                        weights[p] += weight / 2

    lines = prefix.split("\n")
    cursor = lines[-1]
    if m := re.search(r"[A-Za-z_][A-Za-z0-9_]*$", cursor):
        add(m.group(0), 3.0)  # the name being typed
    add(cursor, 2.0)
    near = "\n".join(lines[-NEAR_LINES:-1])
    add(near, 1.0)
    add(near, 1.0, calls_only=True)
    for i in enclosing_headers(lines):
        add(lines[i], 1.0)
    add("\n".join(import_lines(lines[:-NEAR_LINES])), 0.5)
    add("\n".join(suffix.split("\n")[:3]), 0.5)
    ranked = sorted(weights.items(), key=lambda kv: -kv[1])
    return ranked[:MAX_TERMS]

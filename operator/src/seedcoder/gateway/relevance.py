"""Trimming that keeps the most relevant code, not only the nearest.

Why: when a long file overflows the budget, the lines nearest the cursor are
usually right, but three kinds of distant lines matter more than the ones in
between: the file's imports (which library is in play), the headers of the
definitions that enclose the cursor (the signature being implemented), and the
definitions of the names used near the cursor (what a call must look like).
Those are *pinned*: they take up to ``PINNED_SHARE`` of the budget, in that
order of priority; the rest goes to ``context.trim_around_cursor``. Pinned
lines above the kept window are put back in their original order.
"""

from __future__ import annotations

import re

from seedcoder.gateway.context import Trimmed, trim_around_cursor
from seedcoder.retrieval.query import NEAR_LINES, enclosing_headers, import_lines
from seedcoder.retrieval.tokens import STOP, identifiers

PINNED_SHARE = 0.4
MAX_DEFINITION_LINES = 30
_DEF_NAME = re.compile(
    r"^\s*(?:export\s+)?(?:default\s+)?(?:public\s+|private\s+|static\s+|async\s+)*"
    r"(?:def|class|function|func|fn|interface|struct|type|const|let|var)\s+(?:\([^)]*\)\s*)?([A-Za-z_][A-Za-z0-9_]*)"
)


def _nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _block(lines: list[str], start: int, stop: int) -> list[int]:
    """The definition at ``start`` through its indented body (at most ``MAX_DEFINITION_LINES``)."""
    base = _indent(lines[start])
    out = [start]
    for i in range(start + 1, min(stop, start + MAX_DEFINITION_LINES)):
        line = lines[i]
        if line.strip() and _indent(line) <= base and not line.strip().startswith((")", "}", "]")):
            break
        out.append(i)
        if line.strip() in ("}", "};") and _indent(line) == base:
            break
    return out


def pinned_groups(lines: list[str], cursor: str, suffix: str) -> list[list[int]]:
    """Groups of line indices of ``lines`` (the prefix above the cursor line), most important first."""
    if not lines:
        return []
    groups: list[list[int]] = [[i] for i in reversed(enclosing_headers([*lines, cursor]))]
    imports = set(import_lines(lines))
    groups.extend([i] for i, line in enumerate(lines) if line in imports)
    near_text = "\n".join([*lines[-NEAR_LINES:], cursor, *suffix.split("\n")[:3]])
    used = [n for n in dict.fromkeys(identifiers(near_text)) if n.lower() not in STOP and len(n) > 2]
    far = max(len(lines) - NEAR_LINES, 0)
    defined: dict[str, int] = {}
    for i in range(far):
        m = _DEF_NAME.match(lines[i])
        if m and m.group(1) not in defined:
            defined[m.group(1)] = i
    for name in used:
        if name in defined:
            groups.append(_block(lines, defined[name], far))
    return groups


def trim_relevant(prefix: str, suffix: str, extra: str, budget_bytes: int) -> Trimmed:
    """Keep at most ``budget_bytes`` of ``extra + prefix + suffix``: pinned lines, then nearest first."""
    total = _nbytes(prefix) + _nbytes(suffix) + _nbytes(extra)
    if total <= budget_bytes:
        return Trimmed(prefix, suffix, extra, 0)
    lines = prefix.split("\n")
    body = lines[:-1]
    allowance = int(max(budget_bytes, 0) * PINNED_SHARE)
    pinned: set[int] = set()
    used = 0
    for group in pinned_groups(body, lines[-1], suffix):
        new = [i for i in group if i not in pinned]
        size = sum(_nbytes(body[i]) + 1 for i in new)
        if used + size > allowance:
            continue
        pinned.update(new)
        used += size
    window = trim_around_cursor(prefix, suffix, extra, max(budget_bytes, 0) - used)
    first_kept = len(body) - window.prefix.count("\n")
    above = sorted(i for i in pinned if i < first_kept)
    head = "".join(body[i] + "\n" for i in above)
    new_prefix = head + window.prefix
    kept = _nbytes(new_prefix) + _nbytes(window.suffix) + _nbytes(window.extra)
    return Trimmed(new_prefix, window.suffix, window.extra, total - kept)

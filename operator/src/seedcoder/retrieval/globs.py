"""Include/exclude globs over paths inside a source (``**`` crosses folders, ``*`` does not)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache


@cache
def compile_glob(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out) + r"\Z")


def selected(path: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """Whether ``path`` (relative, '/'-separated) passes the include and exclude globs."""
    if include and not any(compile_glob(g).match(path) for g in include):
        return False
    return not any(compile_glob(g).match(path) for g in exclude)

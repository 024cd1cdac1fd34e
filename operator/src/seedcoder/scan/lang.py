"""Which language a completion is in, from the code around it.

Why guess: ``/v1/completions`` carries no file name. The file's head (package
and import lines) is decisive for Go, Java and Python; otherwise the lines near
the cursor are scored by each language's tell-tale constructs. ``None`` (unsure)
makes the scanner run every language's rules.
"""

from __future__ import annotations

import functools
import re
from typing import Final

_HEAD: Final = (
    ("go", re.compile(r"^package[ \t]+\w+[ \t]*$", re.M)),
    ("java", re.compile(r"^package[ \t]+[\w.]+[ \t]*;|^import[ \t]+(?:static[ \t]+)?java[x]?\.", re.M)),
    (
        "javascript",
        re.compile(
            r"^import[ \t].*\bfrom[ \t]*[\"']|^(?:const|let|var)[ \t].*=[ \t]*require\(|^export[ \t]", re.M
        ),
    ),
    (
        "python",
        re.compile(
            r"^(?:import[ \t]+[\w.]+(?:[ \t]+as[ \t]+\w+)?[ \t]*$|from[ \t]+[\w.]+[ \t]+import[ \t])", re.M
        ),
    ),
)
# tell-tale substrings near the cursor, counted (str.count is far cheaper than regular expressions)
_SCORE: Final = {
    "python": ("def ", "self.", "elif ", "None", "):\n", "import ", "True", "False"),
    "javascript": ("const ", "=>", "function", "require(", "console.", "===", "let ", "undefined"),
    "java": ("public ", "private ", "new ", "String ", "System.", "@Override", ";\n", "throws "),
    "go": (":=", "func ", "err != nil", "fmt.", "package ", "defer ", "nil\n", "[]byte"),
}
HEAD_CHARS: Final = 4096
TAIL_CHARS: Final = 1536


@functools.lru_cache(maxsize=256)
def _from_head(head: str) -> str | None:
    for lang, pattern in _HEAD:
        if pattern.search(head):
            return lang
    return None


def guess_language(prefix: str, suffix: str = "", completion: str = "") -> str | None:
    """The language of the file, or None when unsure (then every language's rules run)."""
    found = _from_head(prefix[:HEAD_CHARS])
    if found is not None:
        return found
    near = prefix[-TAIL_CHARS:] + completion[:TAIL_CHARS] + suffix[:512]
    scores = {lang: sum(near.count(t) for t in tells) for lang, tells in _SCORE.items()}
    best = max(scores.values())
    if best == 0:
        return None
    winners = [lang for lang, s in scores.items() if s == best]
    return winners[0] if len(winners) == 1 else None

"""Identifier-aware tokenisation shared by indexing and querying.

Why its own module: the index and the query must cut text the same way. Code
names are compounds (``parseHTTPHeader``, ``flux_capacitor_v2``): a developer
half-types one part, so each identifier is indexed whole *and* as its
lower-cased sub-words (camelCase and snake_case boundaries, digit runs).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")
_SUBWORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
MAX_TOKEN = 40

# Words that occur in nearly every chunk of code: they only add noise to a query.
_STOP_WORDS = """
a an and are as at be by for from if in is it of on or the to with not
def class return self this none null true false import let var const new
func function public private protected static void int str string bool
else elif while try except finally raise throw throws pass break continue
package struct type interface go defer range nil err async await yield lambda
"""
STOP = frozenset(_STOP_WORDS.split())


def identifiers(text: str) -> list[str]:
    """Identifier-like words of ``text`` in order (numbers included)."""
    return _IDENT.findall(text)


def subwords(ident: str) -> list[str]:
    """Lower-cased parts of an identifier (``getHTTPCode_v2`` -> get, http, code, v, 2)."""
    parts: list[str] = []
    for piece in ident.split("_"):
        parts.extend(p.lower() for p in _SUBWORD.findall(piece))
    return parts


def tokens(text: str, *, keep_stop: bool = False) -> list[str]:
    """Index terms of ``text``: each identifier lower-cased, then its sub-words when it has several."""
    out: list[str] = []
    for ident in identifiers(text):
        whole = ident.lower().strip("_")
        if not whole or len(whole) > MAX_TOKEN:
            continue
        parts = subwords(ident)
        if keep_stop or whole not in STOP:
            out.append(whole)
        if len(parts) > 1:
            out.extend(p for p in parts if keep_stop or p not in STOP)
    return out


def unique(words: Iterable[str]) -> list[str]:
    """``words`` without repeats, first occurrence order kept."""
    return list(dict.fromkeys(words))

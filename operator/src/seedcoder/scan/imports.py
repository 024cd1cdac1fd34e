"""The imports of a source file, per language: which module each local name stands for.

Why: an allow- or deny-list names modules and calls (``requests``,
``os.system``, ``net/http.Get``), but code calls them through local names
(``import requests as rq``; ``from os import system``; ``const cp =
require('child_process')``; ``import java.net.http.HttpClient;``). Each import
found records the module, the imported name (if any), the local alias and its
position, so the scanner can check imports written by the completion and
resolve the calls it makes.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Import:
    module: str
    name: str | None  # the member imported from the module (``from m import name``)
    alias: str | None  # the local name bound, if any
    start: int
    end: int


_PY_IMPORT: Final = re.compile(
    r"^[ \t]*import[ \t]+([\w.]+(?:[ \t]+as[ \t]+\w+)?(?:[ \t]*,[ \t]*[\w.]+(?:[ \t]+as[ \t]+\w+)?)*)", re.M
)
_PY_FROM: Final = re.compile(r"^[ \t]*from[ \t]+([\w.]+)[ \t]+import[ \t]+\(?([\w \t,\n]+?)\)?[ \t]*$", re.M)
_JS_IMPORT: Final = re.compile(
    r"\bimport\s+(?:type\s+)?(?:([\w$]+)\s*,?\s*)?(?:\*\s+as\s+([\w$]+)|\{([^}]*)\})?\s*(?:from\s*)?[\"']([^\"']+)[\"']"
)
_JS_REQUIRE: Final = re.compile(
    r"\b(?:const|let|var)\s+(?:([\w$]+)|\{([^}]*)\})\s*=\s*require\(\s*[\"']([^\"']+)[\"']\s*\)|\brequire\(\s*[\"']([^\"']+)[\"']\s*\)"
)
_JAVA_IMPORT: Final = re.compile(r"^[ \t]*import[ \t]+(?:static[ \t]+)?([\w.]+?)(\.\*)?[ \t]*;", re.M)
_GO_IMPORT: Final = re.compile(r"^[ \t]*import[ \t]*(?:\(([^)]*)\)|((?:[\w.]+[ \t]+)?\"[^\"]+\"))", re.M)
_GO_SPEC: Final = re.compile(r"(?:([\w.]+)[ \t]+)?\"([^\"]+)\"")


def _python(text: str) -> list[Import]:
    out: list[Import] = []
    for m in _PY_IMPORT.finditer(text):
        for part in m.group(1).split(","):
            mod, _, alias = part.strip().partition(" as ")
            mod = mod.strip()
            # ``import a.b`` binds ``a``; resolving ``a.b.f()`` through alias ``a`` -> ``a`` still works
            bound = alias.strip() or mod.split(".")[0]
            out.append(Import(mod if alias.strip() else bound, None, bound, m.start(), m.end()))
    for m in _PY_FROM.finditer(text):
        for part in m.group(2).replace("\n", " ").split(","):
            name, _, alias = part.strip().partition(" as ")
            name = name.strip()
            if name and name != "*":
                out.append(Import(m.group(1), name, alias.strip() or name, m.start(), m.end()))
            elif name == "*":
                out.append(Import(m.group(1), None, None, m.start(), m.end()))
    return out


def _js_names(
    module: str, default: str | None, star: str | None, names: str | None, s: int, e: int
) -> list[Import]:
    out: list[Import] = []
    module = module.removeprefix("node:")  # node:child_process is child_process
    if default:
        out.append(Import(module, None, default, s, e))
    if star:
        out.append(Import(module, None, star, s, e))
    for part in (names or "").split(","):
        name, _, alias = part.strip().partition(" as ")
        name, _, renamed = name.partition(":")  # destructuring: { exec: run }
        name = name.strip()
        if name:
            out.append(Import(module, name, (alias or renamed).strip() or name, s, e))
    if not (default or star or names):
        out.append(Import(module, None, None, s, e))
    return out


def _javascript(text: str) -> list[Import]:
    out: list[Import] = []
    for m in _JS_IMPORT.finditer(text):
        out += _js_names(m.group(4), m.group(1), m.group(2), m.group(3), m.start(), m.end())
    for m in _JS_REQUIRE.finditer(text):
        if m.group(3):
            out += _js_names(m.group(3), m.group(1), None, m.group(2), m.start(), m.end())
        else:
            out.append(Import(m.group(4).removeprefix("node:"), None, None, m.start(), m.end()))
    return out


def _java(text: str) -> list[Import]:
    out: list[Import] = []
    for m in _JAVA_IMPORT.finditer(text):
        path = m.group(1)
        if m.group(2):
            out.append(Import(path, None, None, m.start(), m.end()))
        else:
            module, _, name = path.rpartition(".")
            out.append(Import(module, name, name, m.start(), m.end()))
    return out


def _go(text: str) -> list[Import]:
    out: list[Import] = []
    for m in _GO_IMPORT.finditer(text):
        body = m.group(1) if m.group(1) is not None else m.group(2)
        for spec in _GO_SPEC.finditer(body):
            path = spec.group(2)
            alias = spec.group(1) or path.rsplit("/", 1)[-1]
            out.append(Import(path, None, None if alias in ("_", ".") else alias, m.start(), m.end()))
    return out


_BY_LANGUAGE: Final = {"python": _python, "javascript": _javascript, "java": _java, "go": _go}


@functools.lru_cache(maxsize=256)
def find_imports(text: str, language: str | None) -> list[Import]:
    """Every import in ``text`` (all languages' forms when ``language`` is unknown)."""
    """Every import in ``text`` (all languages' forms when ``language`` is unknown); cached: the
    head of a file is the same for every candidate and every streamed line of a request."""
    if language in _BY_LANGUAGE:
        return list(_BY_LANGUAGE[language](text))
    return [i for f in _BY_LANGUAGE.values() for i in f(text)]

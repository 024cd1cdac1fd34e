"""The fast path: scan a completion in its place in the file, report what overlaps its span.

Why a window and not the whole file: a completion is a fragment, so it is scanned
as ``prefix + completion + suffix``; but an 8k-token context is ~32 KB and the
budget is a couple of milliseconds. Rules run over a window of the lines around
the completion (``CONTEXT_BEFORE`` lines of the prefix, ``CONTEXT_AFTER`` of the
suffix), with comments blanked, so a statement that starts in the prefix and ends
in the completion (``subprocess.run(cmd,`` + ``shell=True)``) is seen whole. Only
matches that overlap the completion become findings: insecure code the user
already wrote is not the model's doing. Imports are read from the file's head (its
first 8 KB, where they sit) and the window, to resolve the calls the API lists name.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

from seedcoder.scan.imports import Import, find_imports
from seedcoder.scan.lang import guess_language
from seedcoder.scan.rules import NOT_CRED_NAMES, RULES, Rule

CONTEXT_BEFORE: Final = 12
CONTEXT_AFTER: Final = 6
LOOKBEHIND_CHARS: Final = 600
IMPORTS_HEAD_CHARS: Final = 8192  # imports sit at the top; the same head across keystrokes hits the cache
API_RULES: Final = (
    "api.denied-module",
    "api.module-not-allowed",
    "api.denied-call",
)  # a match may start this far before the completion and still overlap it

_COMMENTS_PY = re.compile(
    r"(?P<s>\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*')|(?P<c>#[^\n]*)"
)
_COMMENTS_C = re.compile(
    r"(?P<s>\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)|(?P<c>//[^\n]*|/\*[\s\S]*?\*/)"
)
_HASH_LINE = re.compile(r"^[ \t]*#", re.M)
_CALL = re.compile(r"(?<![\w.$])([A-Za-z_$][\w$]*(?:\s*\.\s*[A-Za-z_$][\w$]*)*)\s*\(")


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule that fired on a completion; offsets are into the completion's text."""

    rule: str
    cwe: int | None
    severity: str
    message: str
    start: int
    end: int
    line: int

    def wire(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "cwe": f"CWE-{self.cwe}" if self.cwe else None,
            "severity": self.severity,
            "message": self.message,
            "line": self.line,
            "start": self.start,
            "end": self.end,
        }


@dataclass(frozen=True, slots=True)
class ApiLists:
    """Which modules and calls generated code may use (empty: no restriction).

    Names are dotted (``requests``, ``os.system``) or, for Go, import paths
    (``net/http.Get``); a module entry covers its sub-modules; call entries are
    shell-style patterns (``subprocess.*``).
    """

    allow_modules: tuple[str, ...] = ()
    deny_modules: tuple[str, ...] = ()
    deny_calls: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.allow_modules or self.deny_modules or self.deny_calls)


def _covers(entries: Iterable[str], module: str) -> bool:
    return any(module == e or module.startswith(e + ".") or module.startswith(e + "/") for e in entries)


def _mask_comments(text: str, language: str | None) -> str:
    if language is None:  # unknown: '#' comments if any line starts with one, else C-style
        pattern = _COMMENTS_PY if _HASH_LINE.search(text) else _COMMENTS_C
    else:
        pattern = _COMMENTS_PY if language == "python" else _COMMENTS_C

    def blank(m: re.Match[str]) -> str:
        if m.group("c") is None:
            return m.group(0)
        return re.sub(r"[^\n]", " ", m.group(0))

    return pattern.sub(blank, text)


def _nth_from_end(text: str, char: str, n: int) -> int:
    """Index after the ``n``-th ``char`` counted from the end (0 when there are fewer)."""
    pos = len(text)
    for _ in range(n):
        pos = text.rfind(char, 0, pos)
        if pos < 0:
            return 0
    return pos + 1


def _nth(text: str, char: str, n: int) -> int:
    pos = -1
    for _ in range(n):
        pos = text.find(char, pos + 1)
        if pos < 0:
            return len(text)
    return pos


@dataclass(slots=True)
class Scanner:
    """Runs the rules and the API lists; one per gateway, shared by requests (it holds no state)."""

    api: ApiLists = field(default_factory=ApiLists)
    disabled: frozenset[str] = frozenset()
    rules: Sequence[Rule] = RULES
    before: int = CONTEXT_BEFORE
    after: int = CONTEXT_AFTER
    _by_language: dict[str | None, tuple[Rule, ...]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        active = [r for r in self.rules if r.id not in self.disabled and r.category not in self.disabled]
        self._by_language[None] = tuple(active)
        for lang in ("python", "javascript", "java", "go"):
            self._by_language[lang] = tuple(r for r in active if lang in r.languages)

    @property
    def active_rules(self) -> tuple[Rule, ...]:
        return self._by_language[None]

    def scan(
        self, prefix: str, completion: str, suffix: str = "", language: str | None = None
    ) -> list[Finding]:
        """Findings overlapping ``completion`` when placed between ``prefix`` and ``suffix``."""
        if not completion.strip():
            return []
        lang = language or guess_language(prefix, suffix, completion)
        head = 0 if self.before >= len(prefix) else _nth_from_end(prefix, "\n", self.before + 1)
        tail = len(suffix) if self.after >= len(suffix) else _nth(suffix, "\n", self.after)
        window = prefix[head:] + completion + suffix[:tail]
        cstart = len(prefix) - head
        cend = cstart + len(completion)
        near = window[max(0, cstart - LOOKBEHIND_CHARS) : cend + LOOKBEHIND_CHARS].lower()
        rules = [
            r
            for r in self._by_language.get(lang, self._by_language[None])
            if any(t in near for t in r.triggers)
        ]
        if not rules and self.api.empty:
            return []
        text = _mask_comments(window, lang)
        needs_imports = not self.api.empty or any(r.needs_import for r in rules)
        imports = (
            find_imports(prefix[: min(head, IMPORTS_HEAD_CHARS)], lang)
            + _shifted(find_imports(text, lang), head)
            if needs_imports
            else []
        )
        shift = head  # imports' offsets are into prefix[:head] + text: the window starts at ``head``
        findings: dict[tuple[str, int], Finding] = {}
        for rule in rules:
            if rule.needs_import and not any(_covers([rule.needs_import], i.module) for i in imports):
                continue
            for m in rule.regex.finditer(text, max(0, cstart - LOOKBEHIND_CHARS)):
                if m.start() >= cend:
                    break
                if m.end() <= cstart or not _keep(rule, m):
                    continue
                f = _finding(rule.id, rule.cwe, rule.severity, rule.message, m.start(), m.end(), cstart, cend,
                             completion)  # fmt: skip
                findings.setdefault((f.rule, f.start), f)
        if not self.api.empty:
            for f in self._api_findings(text, imports, shift, cstart, cend, completion):
                findings.setdefault((f.rule, f.start), f)
        return sorted(findings.values(), key=lambda f: (f.start, f.rule))

    def _api_findings(
        self, text: str, imports: list[Import], shift: int, cstart: int, cend: int, completion: str
    ) -> Iterable[Finding]:
        api = self.api
        aliases = {i.alias: i.module + (f".{i.name}" if i.name else "") for i in imports if i.alias}
        for imp in imports:
            start, end = imp.start - shift, imp.end - shift
            if end <= cstart or start >= cend:
                continue
            if _covers(api.deny_modules, imp.module):
                yield _finding("api.denied-module", None, "high", f"Import of denied module {imp.module}",
                               start, end, cstart, cend, completion)  # fmt: skip
            elif api.allow_modules and not _covers(api.allow_modules, imp.module):
                yield _finding("api.module-not-allowed", None, "high",
                               f"Import of {imp.module}, which is not on the allow-list", start, end, cstart,
                               cend, completion)  # fmt: skip
        for m in _CALL.finditer(text, max(0, cstart - 200)):
            if m.start() >= cend:
                break
            if m.end() <= cstart:
                continue
            name = re.sub(r"\s+", "", m.group(1))
            head, _, rest = name.partition(".")
            target = aliases.get(head)
            qualified = (target + ("." + rest if rest else "")) if target else name
            if any(fnmatch.fnmatchcase(qualified, p) or fnmatch.fnmatchcase(name, p) for p in api.deny_calls):
                yield _finding("api.denied-call", None, "high", f"Call of denied API {qualified}",
                               m.start(1), m.end(1), cstart, cend, completion)  # fmt: skip
            elif target and _covers(api.deny_modules, target):
                yield _finding("api.denied-module", None, "high", f"Call into denied module {target}",
                               m.start(1), m.end(1), cstart, cend, completion)  # fmt: skip
            elif target and api.allow_modules and not _covers(api.allow_modules, target):
                yield _finding("api.module-not-allowed", None, "high",
                               f"Call into {target}, which is not on the allow-list", m.start(1), m.end(1),
                               cstart, cend, completion)  # fmt: skip


def _shifted(imports: list[Import], by: int) -> list[Import]:
    return [replace(i, start=i.start + by, end=i.end + by) for i in imports]


def _keep(rule: Rule, m: re.Match[str]) -> bool:
    groups = m.re.groupindex
    if "name" in groups and (name := m.group("name")) and NOT_CRED_NAMES.search(name):
        return False
    if rule.unless_regex is None:
        return True
    target = m.group(0)
    if "v1" in groups:
        target = m.group("v1") or m.group("v2") or ""
    return rule.unless_regex.search(target) is None


def _finding(
    rule: str, cwe: int | None, severity: str, message: str, start: int, end: int, cstart: int, cend: int,
    completion: str,
) -> Finding:  # fmt: skip
    s, e = max(start, cstart) - cstart, min(end, cend) - cstart
    return Finding(rule, cwe, severity, message, s, e, completion.count("\n", 0, s) + 1)

"""The deeper pass, off the request path: whole-file rules, Bandit and Semgrep on an accepted completion.

Why: the fast path sees a window of lines within a millisecond budget; an
accepted completion can afford seconds. Three engines run on
``prefix + completion + suffix`` written to a private temporary folder:

* ``fast-rules-whole-file``: every fast rule over the whole file (no window);
* ``bandit`` (Python files): Bandit's checks;
* ``semgrep``: the project's own Semgrep rules (``seedcoder/scan/semgrep/``),
  only when a ``semgrep`` executable is installed (its wheel is large, so it is
  optional); it runs with ``--metrics=off`` and never downloads rules.

Only findings on the completion's lines count. A finding whose CWE the fast
path did not report for the same completion is ``fast_path: missed``: the
rules to improve.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

from seedcoder.scan.lang import guess_language
from seedcoder.scan.scanner import Scanner

SEMGREP_RULES: Final = Path(__file__).parent / "semgrep"
SUFFIXES: Final = {"python": ".py", "javascript": ".js", "java": ".java", "go": ".go", None: ".txt"}
SEMGREP_TIMEOUT_S: Final = 120
WHOLE_FILE: Final = "fast-rules-whole-file"


@dataclass(frozen=True, slots=True)
class DeepFinding:
    engine: str
    rule: str
    cwe: int | None
    line: int  # 1-based, within the completion
    fast_path: str  # "caught" or "missed"


def _cwe(value: object) -> int | None:
    text = str(value)
    digits = "".join(ch for ch in text.split(":")[0] if ch.isdigit())
    return int(digits) if digits else None


def semgrep_binary() -> str | None:
    return os.environ.get("SEEDCODER_SEMGREP") or shutil.which("semgrep")


def _bandit(path: Path) -> list[tuple[str, int | None, int]]:
    with warnings.catch_warnings():  # its plugin loader warns about a deprecated stevedore argument
        warnings.simplefilter("ignore", DeprecationWarning)
        from bandit.core import config, manager  # type: ignore[import-untyped]  # only Python needs it

        mgr = manager.BanditManager(config.BanditConfig(), "file", quiet=True)
        mgr.discover_files([str(path)])
        mgr.run_tests()
    return [(f"{i.test_id}.{i.test}", i.cwe.id if i.cwe else None, i.lineno) for i in mgr.get_issue_list()]


def _semgrep(binary: str, path: Path) -> list[tuple[str, int | None, int]]:
    proc = subprocess.run(
        [binary, "scan", "--config", str(SEMGREP_RULES), "--metrics=off", "--disable-version-check",
         "--json", "--quiet", "--no-git-ignore", str(path)],
        capture_output=True, text=True, timeout=SEMGREP_TIMEOUT_S, check=False, cwd=path.parent,
    )  # fmt: skip
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"semgrep exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    out = []
    for r in json.loads(proc.stdout).get("results", []):
        meta = r.get("extra", {}).get("metadata", {})
        out.append(
            (str(r["check_id"]).rsplit(".", 1)[-1], _cwe(meta.get("cwe", "")), int(r["start"]["line"]))
        )
    return out


def deep_scan(
    prefix: str, completion: str, suffix: str = "", fast: Scanner | None = None
) -> list[DeepFinding]:
    """Every engine's findings on the completion's lines, each marked caught or missed by the fast path."""
    if not completion.strip():
        return []
    fast = fast or Scanner()
    lang = guess_language(prefix, suffix, completion)
    fast_cwes = {f.cwe for f in fast.scan(prefix, completion, suffix, lang)}
    first = prefix.count("\n") + 1
    last = first + completion.rstrip("\n").count("\n")
    raw: list[tuple[str, str, int | None, int]] = []
    whole = Scanner(api=fast.api, disabled=fast.disabled, before=10**9, after=10**9)
    for f in whole.scan(prefix, completion, suffix, lang):
        raw.append((WHOLE_FILE, f.rule, f.cwe, first + f.line - 1))
    with tempfile.TemporaryDirectory(prefix="seedcoder-deep-") as tmp:
        path = Path(tmp) / f"completion{SUFFIXES.get(lang, '.txt')}"
        path.write_text(prefix + completion + suffix, encoding="utf-8")
        if lang == "python":
            raw += [("bandit", r, c, ln) for r, c, ln in _bandit(path)]
        if (binary := semgrep_binary()) is not None:
            raw += [("semgrep", r, c, ln) for r, c, ln in _semgrep(binary, path)]
    out = {
        DeepFinding(engine, rule, cwe, ln - first + 1, "caught" if cwe in fast_cwes else "missed")
        for engine, rule, cwe, ln in raw
        if first <= ln <= last
    }
    return sorted(out, key=lambda f: (f.line, f.engine, f.rule))


def record(event_id: str, completion_id: str, findings: list[DeepFinding]) -> dict[str, object]:
    """The JSON stored beside the feedback event."""
    return {
        "event_id": event_id,
        "completion_id": completion_id,
        "semgrep": semgrep_binary() is not None,
        "findings": [asdict(f) for f in findings],
        "fast_path_missed": sorted({f.rule for f in findings if f.fast_path == "missed"}),
    }

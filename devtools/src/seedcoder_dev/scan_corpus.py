"""The labelled corpus of completions in context, and how the scanner is scored on it.

Why in the package: the benchmark (``benchmarks/scan_bench.py``) and the test that
guards its committed figures must score the same way. A case is a completion
with its prefix and suffix and a label: the CWE it falls under, or ``null`` for
a safe look-alike (a parameterised query, a key read from the environment). An
insecure case counts as found when a finding with its CWE overlaps the
completion; a safe case is a false positive when any finding does.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from seedcoder.scan.rules import CATEGORIES
from seedcoder.scan.scanner import Scanner


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    language: str
    cwe: int | None
    prefix: str
    completion: str
    suffix: str


def load_corpus(folder: Path) -> list[Case]:
    cases: list[Case] = []
    for path in sorted(folder.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        for raw in doc["cases"]:
            cwe = raw.get("cwe")
            if cwe is not None and cwe not in CATEGORIES:
                raise ValueError(f"{path.name}: case {raw.get('id')}: unknown CWE {cwe}")
            cases.append(
                Case(
                    raw["id"],
                    raw.get("language", doc["language"]),
                    cwe,
                    raw["prefix"],
                    raw["completion"],
                    raw.get("suffix", ""),
                )
            )
    ids = [c.id for c in cases]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate case ids in the corpus")
    return cases


def evaluate(cases: list[Case], scanner: Scanner | None = None) -> dict[str, Any]:
    """Recall per CWE and language, false positives per rule and language, and the misses by id."""
    scanner = scanner or Scanner()
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # key -> [hits, total]
    false_pos: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    fp_rules: dict[str, int] = defaultdict(int)
    misses: list[str] = []
    false_alarms: list[str] = []
    for case in cases:
        findings = scanner.scan(case.prefix, case.completion, case.suffix)
        if case.cwe is not None:
            hit = any(f.cwe == case.cwe for f in findings)
            for key in ("all", f"cwe:{case.cwe}", f"lang:{case.language}"):
                found[key][0] += hit
                found[key][1] += 1
            if not hit:
                misses.append(case.id)
        else:
            flagged = bool(findings)
            for key in ("all", f"lang:{case.language}"):
                false_pos[key][0] += flagged
                false_pos[key][1] += 1
            for rule in {f.rule for f in findings}:
                fp_rules[rule] += 1
            if flagged:
                false_alarms.append(f"{case.id}: {sorted({f.rule for f in findings})}")

    def rate(d: dict[str, list[int]]) -> dict[str, dict[str, float | int]]:
        return {k: {"hits": v[0], "total": v[1], "rate": round(v[0] / v[1], 4)} for k, v in sorted(d.items())}

    return {
        "cases": len(cases),
        "insecure": found["all"][1],
        "safe": false_pos["all"][1],
        "recall": rate(found),
        "false_positive_rate": rate(false_pos),
        "false_positives_by_rule": dict(sorted(fp_rules.items())),
        "missed": sorted(misses),
        "false_alarms": sorted(false_alarms),
    }

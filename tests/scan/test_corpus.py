"""The labelled corpus: targets met, and the committed benchmark figures are the ones the code gives.

``benchmarks/results/scan_corpus.json`` is written by ``make bench-scan``; when a
rule or a case changes, this test fails until the benchmark is run again, so the
published figures never drift from the code. Latency is measured by the
benchmark only (never asserted here: timings depend on the machine).
"""

from __future__ import annotations

import json
from pathlib import Path

from seedcoder.scan.rules import CATEGORIES
from seedcoder_dev.scan_corpus import evaluate, load_corpus

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "scan" / "corpus"
COMMITTED = ROOT / "benchmarks" / "results" / "scan_corpus.json"


def test_corpus_covers_every_rule_class_and_language() -> None:
    cases = load_corpus(CORPUS)
    insecure = [c for c in cases if c.cwe is not None]
    safe = [c for c in cases if c.cwe is None]
    assert len(insecure) >= 60
    assert len(safe) >= 60
    assert {c.cwe for c in insecure} == set(CATEGORIES)
    for lang in ("python", "javascript", "java", "go"):
        assert len({c.cwe for c in insecure if c.language == lang}) >= 6, lang
        assert sum(c.language == lang for c in safe) >= 10, lang


def test_recall_and_false_positive_targets_and_committed_figures() -> None:
    result = evaluate(load_corpus(CORPUS))
    assert result["recall"]["all"]["rate"] >= 0.95, result["missed"]
    assert result["false_positive_rate"]["all"]["rate"] <= 0.05, result["false_alarms"]
    committed = json.loads(COMMITTED.read_text())
    assert committed == result, "benchmarks/results/scan_corpus.json is stale: run make bench-scan"

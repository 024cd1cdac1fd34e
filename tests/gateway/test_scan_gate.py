"""The streamed line gate under ``block``, on every corpus case, split into chunks every possible way.

Properties (hypothesis chooses the chunk boundaries the backend would send):

* what leaves is always a prefix of the completion, and is clean in context:
  scanning it in place finds nothing, so no flagged text ever reaches the client;
* an insecure case is stopped; a safe look-alike streams whole;
* ``annotate`` releases everything at once and reports the same rules as the
  non-streamed scan.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seedcoder.api.scan import ScanSpec
from seedcoder.gateway.metrics import Metrics
from seedcoder.gateway.ranking import Candidate
from seedcoder.gateway.scanning import CONTENT_FILTER, Guard
from seedcoder_dev.scan_corpus import Case, load_corpus

CASES = load_corpus(Path(__file__).resolve().parents[1] / "scan" / "corpus")


def stream(guard: Guard, case: Case, cuts: list[int]) -> tuple[str, bool, list[str]]:
    gate = guard.gate(case.prefix, case.suffix)
    text = case.completion
    bounds = sorted({min(c, len(text)) for c in cuts} | {0, len(text)})
    sent = "".join(gate.feed(text[a:b]) for a, b in itertools.pairwise(bounds))
    rest, found = gate.finish()
    return sent + rest, bool(gate.blocked), [f.rule for f in found]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@settings(max_examples=15, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12))
def test_block_releases_only_clean_lines(case: Case, cuts: list[int]) -> None:
    guard = Guard(ScanSpec(policy="block"), Metrics())
    sent, blocked, _ = stream(guard, case, cuts)
    assert case.completion.startswith(sent)
    assert guard.scanner.scan(case.prefix, sent, "") == [], "flagged text left the gateway"
    assert blocked == (case.cwe is not None)
    if case.cwe is None:
        assert sent == case.completion


@pytest.mark.parametrize("case", [c for c in CASES if c.cwe is not None][:20], ids=lambda c: c.id)
def test_annotate_streams_everything_and_reports_like_the_whole_scan(case: Case) -> None:
    guard = Guard(ScanSpec(policy="annotate"), Metrics())
    sent, blocked, rules = stream(guard, case, [3, 10, 50])
    assert sent == case.completion
    assert not blocked
    _, report = guard.check(case.prefix, case.suffix, [Candidate(case.completion, "stop", 1)])
    assert report is not None
    assert rules == [f.rule for f in report.findings[0]]
    assert rules


def test_block_with_candidates_keeps_rank_order_and_drops_only_flagged() -> None:
    guard = Guard(ScanSpec(policy="block"), Metrics())
    bad = next(c for c in CASES if c.id == "py-os-system")
    good = next(c for c in CASES if c.id == "py-os-system-const")
    cands = [Candidate(bad.completion, "stop", 1), Candidate(good.completion, "stop", 1)]
    kept, report = guard.check(bad.prefix, "", cands)
    assert [c.text for c in kept] == [good.completion]
    assert report is not None
    assert report.wire()["blocked_candidates"] == 1
    kept, _ = guard.check(bad.prefix, "", cands[:1])
    assert [(c.text, c.finish_reason) for c in kept] == [("", CONTENT_FILTER)]

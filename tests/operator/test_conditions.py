"""Conditions follow the API conventions: transition time moves only with status."""

from __future__ import annotations

from seedcoder.operator.reconcile.conditions import Verdict, merge, ready


def test_transition_time_moves_only_when_status_changes() -> None:
    first, t1 = merge([], [Verdict("Available", "False", "NoReadyPool")], 1, "2026-01-01T00:00:00Z")
    assert [t.new for t in t1] == ["False"]
    same, t2 = merge(first, [Verdict("Available", "False", "NoReadyPool", "msg")], 2, "2026-01-01T00:05:00Z")
    assert same[0].last_transition_time == "2026-01-01T00:00:00Z"
    assert same[0].observed_generation == 2
    assert t2 == []
    flipped, t3 = merge(same, [Verdict("Available", "True", "Serving")], 2, "2026-01-01T00:06:00Z")
    assert flipped[0].last_transition_time == "2026-01-01T00:06:00Z"
    assert [(t.old, t.new) for t in t3] == [("False", "True")]


def test_ready_rolls_up_sub_conditions() -> None:
    good = [
        Verdict("EnginesReady", "True", "Built"),
        Verdict("Available", "True", "Serving"),
        Verdict("Progressing", "False", "Complete"),
        Verdict("SLOMet", "False", "ObjectiveMissed"),
    ]
    assert ready(good).status == "True"  # an SLO miss degrades, it does not un-ready
    building = [Verdict("EnginesReady", "False", "Building"), *good[1:]]
    assert (ready(building).status, ready(building).reason) == ("False", "Building")
    rolling = [*good[:2], Verdict("Progressing", "True", "RollingOut")]
    assert (ready(rolling).status, ready(rolling).reason) == ("False", "Progressing")

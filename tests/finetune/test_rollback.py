"""The rollback rule (``finetune.rollback``): live acceptance of an adapter against the base's."""

from __future__ import annotations

import pytest
from seedcoder.finetune.rollback import DEFAULT_MIN_EVENTS, FeedbackCounts, counts_by_adapter, decide_rollback

BASE = FeedbackCounts(accepted=500, edited=100, rejected=400)  # 0.60 over 1000 events


def test_an_adapter_well_below_the_base_is_rolled_back_with_the_numbers() -> None:
    worse = FeedbackCounts(accepted=200, edited=50, rejected=250)  # 0.50 over 500
    d = decide_rollback("payments", worse, BASE, margin=0.05)
    assert d.rollback
    assert d.reason == "AcceptanceBelowBase"
    assert "0.500" in d.message
    assert "0.600" in d.message
    assert "payments" in d.message
    assert (d.adapter_acceptance, d.base_acceptance, d.adapter_events, d.base_events) == (0.5, 0.6, 500, 1000)


def test_within_the_margin_or_better_the_adapter_is_kept() -> None:
    edge = FeedbackCounts(accepted=275, rejected=225)  # 0.55: exactly the margin below
    assert not decide_rollback("a", edge, BASE, margin=0.05).rollback
    assert decide_rollback("a", edge, BASE, margin=0.05).reason == "AcceptanceHeld"
    better = FeedbackCounts(accepted=400, rejected=100)
    assert not decide_rollback("a", better, BASE, margin=0.0).rollback
    assert decide_rollback("a", edge, BASE, margin=0.049).rollback  # the margin is what decides


def test_too_little_feedback_decides_nothing() -> None:
    few = FeedbackCounts(rejected=DEFAULT_MIN_EVENTS - 1)  # all rejected, but too few to judge
    d = decide_rollback("a", few, BASE, margin=0.05)
    assert not d.rollback
    assert d.reason == "InsufficientFeedback"
    assert not decide_rollback("a", BASE, FeedbackCounts(accepted=10), margin=0.05).rollback
    assert decide_rollback("a", few, BASE, margin=0.05, min_events=100).rollback


def test_edited_completions_count_as_accepted() -> None:
    assert FeedbackCounts(accepted=1, edited=1, rejected=2).acceptance == 0.5
    assert FeedbackCounts().acceptance is None


def test_bad_inputs_are_refused_naming_them() -> None:
    with pytest.raises(ValueError, match="margin"):
        decide_rollback("a", BASE, BASE, margin=1.5)
    with pytest.raises(ValueError, match="min_events"):
        decide_rollback("a", BASE, BASE, margin=0.1, min_events=0)
    with pytest.raises(ValueError, match="rejected count"):
        FeedbackCounts(rejected=-1)


def test_counts_from_prometheus_samples_sum_pods_and_default_to_the_base() -> None:
    samples = [
        ({"adapter": "payments", "outcome": "accepted", "pod": "gw-1"}, 10.0),
        ({"adapter": "payments", "outcome": "accepted", "pod": "gw-2"}, 5.0),
        ({"adapter": "payments", "outcome": "rejected"}, 15.0),
        ({"adapter": "base", "outcome": "edited"}, 3.0),
        ({"outcome": "accepted"}, 2.0),
        ({"adapter": "payments", "outcome": "shown"}, 99.0),
    ]
    counts = counts_by_adapter(samples)
    assert counts["payments"] == FeedbackCounts(accepted=15, rejected=15)
    assert counts["base"] == FeedbackCounts(accepted=2, edited=3)

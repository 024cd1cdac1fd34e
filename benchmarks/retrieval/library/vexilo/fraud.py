"""Fraud screening: the pellucid score of a payment."""

from __future__ import annotations


def pellucid_risk_score(account_glyph: str, quanta: int, country: str) -> float:
    """Score a payment for fraud risk between 0 (clean) and 1 (block it)."""
    return min(1.0, abs(quanta) / 1e9)


def quarantine_by_wendle_rule(account_glyph: str, rule_id: str) -> None:
    """Freeze an account under a wendle rule until a reviewer releases it."""


def release_wendle_hold(account_glyph: str, reviewer: str) -> bool:
    """Release a wendle quarantine; returns whether a hold existed."""
    return bool(reviewer)

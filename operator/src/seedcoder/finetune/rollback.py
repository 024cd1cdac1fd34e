"""Automatic rollback: unpublish an adapter whose live acceptance rate fell below the base model's.

Why pure: the gate (``finetune.gate``) judges an adapter offline, on held-out
tasks; developers judge it live, by accepting or rejecting its completions. The
reconcile of a SeedCoderFineTune reads the per-adapter feedback counts (the
recording rule ``namespace_deployment_adapter:seedcoder_gateway_feedback_events:increase1d``
of ``seedcoder.observability.rules``, or the gateways' ``seedcoder_gateway_feedback_total``
counters directly), calls :func:`decide_rollback` and, on ``rollback``, removes
the adapter from the gateway configuration, writes the status and an Event with
the reason and message as is.

The rule, over one window:

* acceptance = (accepted + edited) / every feedback event (``accepted``,
  ``edited``, ``rejected``): an edited completion was kept, then changed;
* too few events for the adapter or the base (``min_events``): no decision,
  ``InsufficientFeedback`` (a handful of rejections must not undo a gate);
* adapter acceptance below the base's by more than ``margin``
  (``spec.publish.rollbackMargin``): roll back, ``AcceptanceBelowBase``;
* otherwise keep it, ``AcceptanceHeld``.

The base's events come from the same deployment and window, so both rates see
the same developers, hours and code; what differs is the model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from seedcoder.api.adapters import BASE

ACCEPTED_OUTCOMES = ("accepted", "edited")
OUTCOMES = ("accepted", "edited", "rejected")
DEFAULT_MIN_EVENTS = 200
"""Feedback events each side needs in the window before a rollback is judged at all."""
_PLACES = 6  # rates are compared rounded: 0.60 - 0.55 must count as 0.05


@dataclass(frozen=True, slots=True)
class FeedbackCounts:
    """Feedback events of one model (an adapter, or the base) in the window."""

    accepted: float = 0.0
    edited: float = 0.0
    rejected: float = 0.0

    def __post_init__(self) -> None:
        for name in OUTCOMES:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} count must not be negative, got {getattr(self, name)}")

    @property
    def events(self) -> float:
        return self.accepted + self.edited + self.rejected

    @property
    def acceptance(self) -> float | None:
        """Accepted-or-edited share; None without events."""
        return (self.accepted + self.edited) / self.events if self.events else None


@dataclass(frozen=True, slots=True)
class RollbackDecision:
    """Whether to roll the adapter back, and why (CamelCase reason, a sentence with the numbers)."""

    rollback: bool
    reason: str
    message: str
    adapter_acceptance: float | None
    base_acceptance: float | None
    adapter_events: float
    base_events: float


def decide_rollback(
    adapter: str,
    adapter_counts: FeedbackCounts,
    base_counts: FeedbackCounts,
    *,
    margin: float,
    min_events: float = DEFAULT_MIN_EVENTS,
) -> RollbackDecision:
    """Roll ``adapter`` back when its acceptance trails the base's by more than ``margin``."""
    if not 0 <= margin <= 1:
        raise ValueError(f"margin must be within [0, 1], got {margin}")
    if min_events < 1:
        raise ValueError(f"min_events must be at least 1, got {min_events}")
    a, b = adapter_counts.acceptance, base_counts.acceptance
    na, nb = adapter_counts.events, base_counts.events

    def decision(rollback: bool, reason: str, message: str) -> RollbackDecision:
        return RollbackDecision(rollback, reason, message, a, b, na, nb)

    if na < min_events or nb < min_events or a is None or b is None:
        return decision(
            False,
            "InsufficientFeedback",
            f"Adapter {adapter} has {na:g} feedback events and the base {nb:g}; "
            f"{min_events:g} each are needed to judge it.",
        )
    gap = round(b - a, _PLACES)
    rates = f"acceptance {a:.3f} vs the base's {b:.3f} over {na:g} and {nb:g} events"
    if gap > margin:
        return decision(
            True,
            "AcceptanceBelowBase",
            f"Adapter {adapter} rolled back: {rates}, {gap:.3f} below (allowed {margin:.3f}).",
        )
    return decision(False, "AcceptanceHeld", f"Adapter {adapter} kept: {rates} (allowed gap {margin:.3f}).")


def counts_by_adapter(samples: Iterable[tuple[Mapping[str, str], float]]) -> dict[str, FeedbackCounts]:
    """Per-adapter counts from ``(labels, value)`` samples carrying ``adapter`` and ``outcome`` labels.

    What a Prometheus query of the feedback recording rule (or counter) returns;
    samples of one adapter and outcome (several gateway pods) are summed, unknown
    outcomes are ignored, a sample without an adapter label counts as the base.
    """
    sums: dict[str, dict[str, float]] = {}
    for labels, value in samples:
        outcome = labels.get("outcome", "")
        if outcome not in OUTCOMES:
            continue
        per = sums.setdefault(labels.get("adapter") or BASE, dict.fromkeys(OUTCOMES, 0.0))
        per[outcome] += float(value)
    return {name: FeedbackCounts(**per) for name, per in sums.items()}

"""Condition bookkeeping by the Kubernetes API conventions (pure).

Why: ``lastTransitionTime`` must move only when a condition's status moves, every
condition carries the generation it was computed from, and the sub-conditions
roll up into ``Ready``; getting that right once here keeps status writes minimal
(an unchanged world yields an identical list, hence no write) and events honest
(one per real transition).
"""

from __future__ import annotations

from dataclasses import dataclass

from seedcoder.api.status import Condition, ConditionStatus


@dataclass(frozen=True)
class Verdict:
    """A computed condition before timestamps: type, status, reason, message."""

    type: str
    status: ConditionStatus
    reason: str
    message: str = ""


@dataclass(frozen=True)
class Transition:
    """A condition whose status or reason changed, or that appeared (``old`` is None)."""

    type: str
    old: str | None
    new: ConditionStatus
    reason: str
    message: str


def merge(
    old: list[Condition], verdicts: list[Verdict], generation: int, now: str
) -> tuple[list[Condition], list[Transition]]:
    """The new condition list (in ``verdicts`` order) and the transitions it makes."""
    previous = {c.type: c for c in old}
    out: list[Condition] = []
    transitions: list[Transition] = []
    for v in verdicts:
        prev = previous.get(v.type)
        changed = prev is None or prev.status != v.status
        out.append(
            Condition(
                type=v.type,
                status=v.status,
                observed_generation=generation,
                last_transition_time=now if changed or prev is None else prev.last_transition_time,
                reason=v.reason,
                message=v.message[:32768],
            )
        )
        if changed or (prev is not None and prev.reason != v.reason):
            transitions.append(
                Transition(v.type, prev.status if prev else None, v.status, v.reason, v.message)
            )
    return out, transitions


def ready(verdicts: list[Verdict]) -> Verdict:
    """``Ready``: True when every sub-condition that must hold does; else the first that does not."""
    for v in verdicts:
        healthy = v.status == "True" if v.type != "Progressing" else v.status == "False"
        if v.type == "SLOMet" or healthy:
            continue
        reason = v.reason if v.type != "Progressing" else "Progressing"
        return Verdict("Ready", "False" if v.status != "Unknown" else "Unknown", reason, v.message)
    return Verdict("Ready", "True", "Ready", "Serving on every pool with the desired engine")

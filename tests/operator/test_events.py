"""Which condition changes become Kubernetes Events: the story a person reads, at the fewest writes."""

from __future__ import annotations

import pytest
from seedcoder.operator.reconcile.conditions import Transition
from seedcoder.operator.reconcile.events import worth_an_event


@pytest.mark.parametrize(
    ("transition", "posted"),
    [
        # a healthy rollout: conditions appear and settle; only Ready becoming True is news
        (Transition("EnginesReady", None, "False", "Building", ""), False),
        (Transition("Available", None, "False", "NoReadyPool", ""), False),
        (Transition("Ready", None, "False", "NotAvailable", ""), False),
        (Transition("EnginesReady", "False", "True", "Built", ""), False),
        (Transition("Available", "False", "True", "Serving", ""), False),
        (Transition("Ready", "False", "True", "Serving", ""), True),
        (Transition("Progressing", "True", "False", "Complete", ""), False),
        # a rollout's waiting reason moves while the status stays: a step, not news
        (Transition("Available", "False", "False", "GatewayUnavailable", ""), False),
        (Transition("Ready", "False", "False", "GatewayUnavailable", ""), False),
        (Transition("Ready", "False", "False", "BuildFailed", ""), True),
        # bad news, even on first sight
        (Transition("EnginesReady", None, "False", "BuildFailed", ""), True),
        (Transition("Ready", None, "False", "InvalidSpec", ""), True),
        # something lost, or the objective missed and met again
        (Transition("Available", "True", "False", "NoReadyPool", ""), True),
        (Transition("SLOMet", "True", "False", "ObjectiveMissed", ""), True),
        (Transition("SLOMet", "False", "True", "ObjectiveMet", ""), True),
    ],
)
def test_worth_an_event(transition: Transition, posted: bool) -> None:
    assert worth_an_event(transition) is posted

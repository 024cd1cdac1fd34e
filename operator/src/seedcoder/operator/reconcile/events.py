"""Kubernetes Events for condition transitions and scaling decisions (``kubectl describe scd``).

Why only some transitions: an event per reconcile would flood the API and hide
the signal, and each is an API write; one per change a person cares about
(see :func:`worth_an_event`) tells the story.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

from seedcoder.api.resource import API_VERSION, KIND, SeedCoderDeployment
from seedcoder.api.status import ScaleEvent
from seedcoder.operator.kube import ApiError, Kube
from seedcoder.operator.reconcile.conditions import Transition
from seedcoder.operator.settings import FIELD_MANAGER

REPORTING_CONTROLLER = "seedcoder.dev/operator"
_WARNING_REASONS = {
    "BuildFailed",
    "InvalidSpec",
    "NoReadyPool",
    "GatewayUnavailable",
    "ObjectiveMissed",
    "EngineRegressed",
    "EvaluationFailed",
}


def _warning(t: Transition) -> bool:
    return t.new == "False" and t.reason in _WARNING_REASONS


_ALWAYS_NEWS = {"BuildFailed", "InvalidSpec", "EngineRegressed", "EvaluationFailed"}
"""Bad news even when the condition first appears (a rollout's waiting reasons are not)."""
_SUMMARIES = {"Ready", "SLOMet", "EngineGate"}
"""The conditions a person watches: every change of theirs is an event."""


def worth_an_event(t: Transition) -> bool:
    """Changes a person would want to hear of; the routine steps of a rollout are left to the status.

    A new resource's conditions appear and settle (engines built, pools available)
    without events; its ``Ready`` becoming True is the one event of a healthy
    rollout. Afterwards: every change of the status of ``Ready`` or ``SLOMet``,
    anything lost (a condition that was True), and bad news. A reason that moves
    while the status stays (``NoReadyPool`` to ``GatewayUnavailable`` while a new
    resource rolls out) is a step, not news.
    """
    if t.type == "Progressing":
        return False
    if t.new == "False" and t.reason in _ALWAYS_NEWS:
        return True
    if t.old is None or t.old == t.new:
        return False
    return t.type in _SUMMARIES or t.old == "True"


def _manifest(
    scd: SeedCoderDeployment,
    *,
    reason: str,
    note: str,
    warning: bool,
    action: str,
    now: datetime,
    instance: str,
) -> dict[str, object]:
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {
            "name": f"{scd.metadata.name}.{secrets.token_hex(8)}",
            "namespace": scd.metadata.namespace,
        },
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "reportingController": REPORTING_CONTROLLER,
        "reportingInstance": instance,
        "action": action,
        "reason": reason,
        "note": note[:1024],
        "type": "Warning" if warning else "Normal",
        "regarding": {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "name": scd.metadata.name,
            "namespace": scd.metadata.namespace,
            "uid": scd.metadata.uid,
        },
    }


def event_manifest(
    scd: SeedCoderDeployment, t: Transition, now: datetime, instance: str
) -> dict[str, object]:
    note = f"{t.type} is {t.new} ({t.reason})" + (f": {t.message}" if t.message else "")
    return _manifest(
        scd, reason=t.reason, note=note, warning=_warning(t), action="Reconcile", now=now, instance=instance
    )


def scale_event_manifest(
    scd: SeedCoderDeployment, decision: ScaleEvent, now: datetime, instance: str
) -> dict[str, object]:
    """One autoscaling decision: ``ScaledUp`` or ``ScaledDown``, with the policy's reason."""
    up = decision.to > decision.from_
    note = f"pool {decision.pool}: {decision.from_} -> {decision.to} replicas: {decision.reason}"
    return _manifest(
        scd,
        reason="ScaledUp" if up else "ScaledDown",
        note=note,
        warning=False,
        action="Scale",
        now=now,
        instance=instance,
    )


log = logging.getLogger(__name__)


async def post(
    kube: Kube, scd: SeedCoderDeployment, transitions: list[Transition], now: datetime, instance: str
) -> None:
    """Best effort: the status already tells the truth, so a lost event is only logged."""
    for t in filter(worth_an_event, transitions):
        try:
            await kube.create(event_manifest(scd, t, now, instance), FIELD_MANAGER)
        except ApiError as exc:
            log.warning("Posting an event for SeedCoderDeployment %s failed: %s", scd.metadata.name, exc)


async def post_scaling(
    kube: Kube, scd: SeedCoderDeployment, decisions: list[ScaleEvent], now: datetime, instance: str
) -> None:
    """One Event per autoscaling decision (best effort, like :func:`post`)."""
    for d in decisions:
        try:
            await kube.create(scale_event_manifest(scd, d, now, instance), FIELD_MANAGER)
        except ApiError as exc:
            log.warning(
                "Posting a scaling event for SeedCoderDeployment %s failed: %s", scd.metadata.name, exc
            )

"""Events of a SeedCoderFineTune: only the transitions a person acts on.

Why few: a run's routine steps (a snapshot built, an evaluation started) are in
``status.stages``; an Event each would flood ``kubectl describe``. What is
posted: training started (GPU time is being spent), any stage failed, the gate
rejected an adapter (Warning), an adapter published, a published adapter
rolled back for its live acceptance (Warning).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from seedcoder.api.finetune import KIND, SeedCoderFineTuneStatus
from seedcoder.api.resource import API_VERSION
from seedcoder.operator.kube import ApiError, Kube
from seedcoder.operator.reconcile.events import REPORTING_CONTROLLER
from seedcoder.operator.settings import FIELD_MANAGER

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class News:
    reason: str
    note: str
    warning: bool


def news(old: SeedCoderFineTuneStatus, new: SeedCoderFineTuneStatus) -> list[News]:
    """What changed from ``old`` to ``new`` that deserves an Event (compared within the run)."""
    before = {s.name: s.state for s in old.stages} if old.run == new.run else {}
    out: list[News] = []
    for stage in new.stages:
        if before.get(stage.name) == stage.state:
            continue
        run = f"Run {new.run}"
        if stage.name == "Training" and stage.state == "Running":
            note = f"{run}: training on snapshot {new.dataset_version} ({new.dataset_samples} samples)."
            out.append(News("TrainingStarted", note, False))
        elif stage.name == "Gate" and stage.state == "Failed":
            out.append(News("AdapterRejected", f"{run}: {stage.message or 'the gate failed'}", True))
        elif stage.name == "Publish" and stage.state == "Succeeded" and new.adapter is not None:
            note = f"{run}: serving {new.adapter.model} from {new.adapter.path}."
            out.append(News("AdapterPublished", note, False))
        elif stage.state == "Failed":
            out.append(News(f"{stage.name}Failed", f"{run}: {stage.message or 'failed'}", True))
    if new.rollback is not None and new.rollback != old.rollback:
        out.append(News("AdapterRolledBack", new.rollback.message, True))
    return out


def manifest(
    namespace: str, name: str, uid: str, item: News, now: datetime, instance: str
) -> dict[str, object]:
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": f"{name}.{secrets.token_hex(8)}", "namespace": namespace},
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "reportingController": REPORTING_CONTROLLER,
        "reportingInstance": instance,
        "action": "FineTune",
        "reason": item.reason,
        "note": item.note[:1024],
        "type": "Warning" if item.warning else "Normal",
        "regarding": {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "name": name,
            "namespace": namespace,
            "uid": uid,
        },
    }


async def post(
    kube: Kube, namespace: str, name: str, uid: str, items: list[News], now: datetime, instance: str
) -> None:
    """Best effort: the status already tells the truth, so a lost Event is only logged."""
    for item in items:
        try:
            await kube.create(manifest(namespace, name, uid, item, now, instance), FIELD_MANAGER)
        except ApiError as exc:
            log.warning("Posting an event for SeedCoderFineTune %s/%s failed: %s", namespace, name, exc)

"""Thin Kopf handlers of SeedCoderFineTune, on the SeedCoderDeployment handlers' loop.

A change of one of the resource's Jobs (found by its ownerReference) reconciles
it; everything else, e.g. a cron schedule becoming due or a pod's late
termination message, is picked up by the resync. Generation tracking, locks,
coalescing, retries and the resync are :mod:`seedcoder.operator.loop`'s.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import kopf

from seedcoder.api.finetune import KIND, PLURAL
from seedcoder.api.resource import GROUP, VERSION
from seedcoder.operator.finetune import live_feedback
from seedcoder.operator.finetune.reconcile import FineTuneDeps, Outcome, reconcile
from seedcoder.operator.finetune.settings import FineTuneSettings
from seedcoder.operator.kube import Kube
from seedcoder.operator.loop import ReconcileLoop
from seedcoder.operator.metrics import OperatorMetrics
from seedcoder.operator.objects import names
from seedcoder.operator.settings import OperatorSettings

log = logging.getLogger(__name__)
MEMO_KEY = "finetune"


class FineTuneRuntime:
    """Per-operator state of the fine-tuning reconcile, kept in Kopf's memo."""

    def __init__(self, deps: FineTuneDeps, metrics: OperatorMetrics) -> None:
        self.deps = deps
        self.metrics = metrics
        self.loop: ReconcileLoop[Outcome] = ReconcileLoop(
            "SeedCoderFineTune", self._reconcile, metrics, done=self._done
        )
        self.child_state: dict[str, str] = {}
        self.waiting: dict[str, str] = {}
        """What each resource last waited for (logged once, not every resync)."""

    @property
    def bodies(self) -> dict[str, kopf.Body]:
        return self.loop.bodies

    def forget(self, uid: str) -> None:
        self.loop.forget(uid)
        self.waiting.pop(uid, None)

    def child_changed(self, body: kopf.Body) -> bool:
        uid = body.metadata.uid or ""
        state = json.dumps([body.metadata.get("generation"), body.get("status")], sort_keys=True)
        if self.child_state.get(uid) == state:
            return False
        self.child_state[uid] = state
        return True

    async def _reconcile(self, uid: str, body: kopf.Body, timer: bool) -> Outcome:
        return await reconcile(body, self.deps)

    def _done(self, uid: str, outcome: Outcome) -> None:
        body = self.bodies.get(uid)
        what = f"{body.metadata.namespace}/{body.metadata.name}" if body is not None else uid
        problem = outcome.invalid or outcome.waiting_for
        if problem and self.waiting.get(uid) != problem:
            log.warning("SeedCoderFineTune %s is waiting: %s", what, problem)
        if problem:
            self.waiting[uid] = problem
        else:
            self.waiting.pop(uid, None)


def register(registry: kopf.OperatorRegistry) -> None:
    """Register the SeedCoderFineTune handlers on ``registry`` (the runtime is ``memo.finetune``)."""

    @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry, id="finetune-reconcile")
    async def on_finetune(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        rt: FineTuneRuntime = memo[MEMO_KEY]
        uid = body.metadata.uid or ""
        if type == "DELETED":  # its Jobs go with it (garbage collection)
            rt.forget(uid)
            return
        rt.loop.seen(body)
        if rt.loop.spec_changed(body):
            await rt.loop.run_with_retries(uid, f"{body.metadata.namespace}/{body.metadata.name}")

    managed = {names.LABEL_MANAGED_BY: names.MANAGED_BY}

    @kopf.on.event("batch", "v1", "jobs", registry=registry, id="finetune-job-changed", labels=managed)
    async def on_job(body: kopf.Body, memo: kopf.Memo, namespace: str | None, **_: Any) -> None:
        rt: FineTuneRuntime = memo[MEMO_KEY]
        owners = [r for r in body.metadata.get("ownerReferences") or [] if r.get("kind") == KIND]
        if not owners or not rt.child_changed(body):
            return
        for ref in owners:
            if ref.get("uid") in rt.bodies:
                await rt.loop.run_with_retries(ref["uid"], f"{namespace}/{ref.get('name')}")


def setup(
    registry: kopf.OperatorRegistry,
    kube: Kube,
    settings: OperatorSettings,
    instance: str,
    metrics: OperatorMetrics,
) -> FineTuneRuntime:
    """Register the handlers and build their runtime (settings from the environment), for ``main``."""
    register(registry)
    deps = FineTuneDeps(
        kube, settings, FineTuneSettings.from_env(os.environ), instance, feedback=live_feedback.read_feedback
    )
    return FineTuneRuntime(deps, metrics)

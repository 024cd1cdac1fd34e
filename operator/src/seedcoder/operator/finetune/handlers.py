"""Thin Kopf handlers of SeedCoderFineTune, in the SeedCoderDeployment handlers' pattern.

Raw watch events, no finalizers, no Kopf progress annotations: the operator
remembers in memory the generation it last reconciled, so its own status writes
trigger nothing, and a resource seen for the first time (created, or the
operator restarted) is reconciled. A change of one of the resource's Jobs
(found by its ownerReference) reconciles it too; everything else, e.g. a cron
schedule becoming due or a pod's late termination message, is picked up by
:func:`resync_forever`. One lock per resource keeps reconciles apart, a trigger
arriving while another is queued is dropped, and a passing API refusal is
retried with back-off before the resync would.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from typing import Any

import kopf

from seedcoder.api.finetune import KIND, PLURAL
from seedcoder.api.resource import GROUP, VERSION
from seedcoder.operator.finetune import live_feedback
from seedcoder.operator.finetune.reconcile import FineTuneDeps, Outcome, reconcile
from seedcoder.operator.finetune.settings import FineTuneSettings
from seedcoder.operator.kube import ApiError, Kube
from seedcoder.operator.metrics import OperatorMetrics
from seedcoder.operator.objects import names
from seedcoder.operator.settings import OperatorSettings

log = logging.getLogger(__name__)
RETRY_DELAYS_S = (1.0, 2.0, 4.0, 8.0)
MEMO_KEY = "finetune"


class Retryable(Exception):
    """The API refused a write for a passing reason (409, 422, 429, 5xx)."""


class FineTuneRuntime:
    """Per-operator state of the fine-tuning reconcile, kept in Kopf's memo."""

    def __init__(self, deps: FineTuneDeps, metrics: OperatorMetrics) -> None:
        self.deps = deps
        self.metrics = metrics
        self.locks: dict[str, asyncio.Lock] = {}
        self.queued: set[str] = set()
        self.child_state: dict[str, str] = {}
        self.bodies: dict[str, kopf.Body] = {}
        """The newest body of every SeedCoderFineTune the watch has shown, by uid."""
        self.reconciled: dict[str, Any] = {}
        """The generation each resource was last reconciled at, by uid."""
        self.waiting: dict[str, str] = {}
        """What each resource last waited for (logged once, not every resync)."""

    def lock(self, uid: str) -> asyncio.Lock:
        return self.locks.setdefault(uid, asyncio.Lock())

    def forget(self, uid: str) -> None:
        for table in (self.bodies, self.reconciled, self.locks, self.waiting):
            table.pop(uid, None)

    def spec_changed(self, body: kopf.Body) -> bool:
        uid = body.metadata.uid or ""
        return uid not in self.reconciled or self.reconciled[uid] != body.metadata.get("generation")

    def child_changed(self, body: kopf.Body) -> bool:
        uid = body.metadata.uid or ""
        state = json.dumps([body.metadata.get("generation"), body.get("status")], sort_keys=True)
        if self.child_state.get(uid) == state:
            return False
        self.child_state[uid] = state
        return True


async def run(rt: FineTuneRuntime, uid: str, *, timer: bool = False) -> Outcome | None:
    """Reconcile one resource under its lock; ``None`` when coalesced into a queued run or gone."""
    if uid in rt.queued and not timer:
        return None
    rt.queued.add(uid)
    async with rt.lock(uid):
        rt.queued.discard(uid)
        body = rt.bodies.get(uid)
        if body is None:
            return None
        generation = body.metadata.get("generation")
        started = time.perf_counter()
        try:
            outcome = await reconcile(body, rt.deps)
        except ApiError as exc:
            rt.metrics.reconcile_errors.labels(reason=exc.reason or str(exc.status)).inc()
            if exc.status in (409, 422, 429) or exc.status >= 500:
                raise Retryable(f"API answered {exc}") from exc
            raise
        except Exception as exc:
            rt.metrics.reconcile_errors.labels(reason=type(exc).__name__).inc()
            raise
        finally:
            rt.metrics.reconcile_seconds.observe(time.perf_counter() - started)
        rt.reconciled[uid] = generation
    what = f"{body.metadata.namespace}/{body.metadata.name}"
    problem = outcome.invalid or outcome.waiting_for
    if problem and rt.waiting.get(uid) != problem:
        log.warning("SeedCoderFineTune %s is waiting: %s", what, problem)
    if problem:
        rt.waiting[uid] = problem
    else:
        rt.waiting.pop(uid, None)
    return outcome


async def run_with_retries(rt: FineTuneRuntime, uid: str, what: str) -> Outcome | None:
    """:func:`run`, retried with back-off on a passing API refusal; other failures are logged."""
    for delay in (*RETRY_DELAYS_S, None):
        try:
            return await run(rt, uid)
        except Retryable as exc:
            if delay is None:
                log.warning("Reconcile of SeedCoderFineTune %s deferred to the resync: %s", what, exc)
                return None
            log.info("Reconcile of SeedCoderFineTune %s retried in %.0fs: %s", what, delay, exc)
            await asyncio.sleep(delay)
        except ApiError as exc:
            log.error("Reconcile of SeedCoderFineTune %s failed: %s", what, exc)
            return None
    return None


async def resync_forever(rt: FineTuneRuntime, interval_s: float) -> None:
    """Every ``interval_s``, reconcile every known SeedCoderFineTune once (schedules fire here)."""
    while True:
        await asyncio.sleep(interval_s)
        for uid in list(rt.bodies):
            body = rt.bodies.get(uid)
            if body is None:
                continue
            try:
                await run(rt, uid, timer=True)
            except Exception as exc:  # one resource's failure must not stop the others' resync
                log.warning(
                    "Resync of SeedCoderFineTune %s/%s failed: %s",
                    body.metadata.namespace,
                    body.metadata.name,
                    exc,
                )


def register(registry: kopf.OperatorRegistry) -> None:
    """Register the SeedCoderFineTune handlers on ``registry`` (the runtime is ``memo.finetune``)."""

    @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry, id="finetune-reconcile")
    async def on_finetune(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        rt: FineTuneRuntime = memo[MEMO_KEY]
        uid = body.metadata.uid or ""
        if type == "DELETED":  # its Jobs go with it (garbage collection)
            rt.forget(uid)
            return
        rt.bodies[uid] = body
        if rt.spec_changed(body):
            await run_with_retries(rt, uid, f"{body.metadata.namespace}/{body.metadata.name}")

    managed = {names.LABEL_MANAGED_BY: names.MANAGED_BY}

    @kopf.on.event("batch", "v1", "jobs", registry=registry, id="finetune-job-changed", labels=managed)
    async def on_job(body: kopf.Body, memo: kopf.Memo, namespace: str | None, **_: Any) -> None:
        rt: FineTuneRuntime = memo[MEMO_KEY]
        owners = [r for r in body.metadata.get("ownerReferences") or [] if r.get("kind") == KIND]
        if not owners or not rt.child_changed(body):
            return
        for ref in owners:
            if ref.get("uid") in rt.bodies:
                await run_with_retries(rt, ref["uid"], f"{namespace}/{ref.get('name')}")


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

"""Thin Kopf handlers: every one of them runs the same level-based reconcile.

Why thin: a new or changed resource, the periodic resync and changes of the build
Jobs and Deployments a resource uses all mean "make it so again"; none of them
looks at the event's diff.

Why raw watch events and not Kopf's create/update/resume handlers or its timers:
those keep their bookkeeping in the resource itself (progress and last-handled
annotations, and a finalizer for timers), which costs two to four API writes per
resource and a finalizer that blocks deletion while the operator is down. Here
the operator remembers, in memory, the generation it last reconciled; a watch
event with a new generation (or a resource seen for the first time, which covers
creation and the operator's own restart) reconciles, and events caused by its
own status writes reconcile nothing. The resync is one loop over the resources
the watch has shown, run beside Kopf (:func:`resync_forever`).

Bursts are coalesced: one lock per resource keeps two reconciles of it apart,
a trigger that arrives while another is already queued is dropped (the queued
one takes the newest body when it starts), and a child's event triggers its
owner only when what the reconcile reads of the child (its fingerprint) differs
from what the owner's last reconcile saw or left: the operator's own applies,
its ownerReference edits of a shared Job and the controllers' bookkeeping
trigger nothing. At most ``max_concurrent_reconciles`` run at once, the way
controller-runtime bounds its workers: a hundred reconciles listing their
children together only slow the API server, while triggers waiting their turn
coalesce. The resync is paced: one resource every ``interval / N``, so a
sweep never holds the event loop in one burst. A reconcile the API refused for a passing reason (conflict,
throttling, a 5xx) is retried with back-off before the resync would.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import kopf

from seedcoder.api import finetune as finetune_api
from seedcoder.api.resource import GROUP, KIND, PLURAL, VERSION
from seedcoder.operator.kube import ApiError
from seedcoder.operator.metrics import OperatorMetrics
from seedcoder.operator.objects import finetune_adapters, names
from seedcoder.operator.objects.observed import fingerprint
from seedcoder.operator.reconcile.reconciler import ReconcileDeps, ReconcileResult, reconcile
from seedcoder.operator.settings import FIELD_MANAGER

log = logging.getLogger(__name__)
RETRY_DELAYS_S = (1.0, 2.0, 4.0, 8.0)
"""Back-off for a reconcile the API refused for a passing reason; after that the resync takes over."""


class Retryable(Exception):
    """The API refused a write for a passing reason (409, 422, 429, 5xx)."""


class Runtime:
    """Per-operator state kept in Kopf's memo: dependencies, metrics, known resources, coalescing."""

    def __init__(self, deps: ReconcileDeps, metrics: OperatorMetrics) -> None:
        self.deps = deps
        self.metrics = metrics
        self.locks: dict[str, asyncio.Lock] = {}
        self.slots = asyncio.Semaphore(deps.settings.max_concurrent_reconciles)
        """At most this many reconciles at once: past that, a burst only slows the API server
        (every reconcile lists its children) while the waiting triggers coalesce."""
        self.queued: set[str] = set()
        self.remembered: dict[str, dict[tuple[str, str], dict[str, Any]] | None] = {}
        """Per resource uid: its last reconcile's memory of the children only the operator changes."""
        self.children: dict[str, dict[tuple[str, str], str]] = {}
        """Per resource uid: the fingerprints of its child Deployments and Jobs its last reconcile saw."""
        self.bodies: dict[str, kopf.Body] = {}
        """The newest body of every resource the watch has shown, by uid."""
        self.reconciled: dict[str, Any] = {}
        """The generation each resource was last reconciled at, by uid."""

    def lock(self, uid: str) -> asyncio.Lock:
        return self.locks.setdefault(uid, asyncio.Lock())

    def seen(self, body: kopf.Body) -> None:
        self.bodies[body.metadata.uid or ""] = body
        self.metrics.resources.set(len(self.bodies))

    def forget(self, uid: str) -> None:
        self.bodies.pop(uid, None)
        self.reconciled.pop(uid, None)
        self.locks.pop(uid, None)
        self.children.pop(uid, None)
        self.remembered.pop(uid, None)
        self.metrics.forget(uid)
        self.metrics.resources.set(len(self.bodies))

    def spec_changed(self, body: kopf.Body) -> bool:
        """First sight of the resource, or a generation not reconciled yet (status writes keep it)."""
        uid = body.metadata.uid or ""
        return uid not in self.reconciled or self.reconciled[uid] != body.metadata.get("generation")

    def owners_to_wake(self, kind: str, body: kopf.Body) -> list[tuple[str, str]]:
        """(uid, name) of each known owner whose last reconcile saw this child differently."""
        key = (kind, body.metadata.name or "")
        now = fingerprint(kind, body, FIELD_MANAGER)
        return [
            (ref["uid"], ref.get("name", ""))
            for ref in body.metadata.get("ownerReferences") or []
            if ref.get("kind") == KIND
            and ref.get("uid") in self.bodies
            and self.children.get(ref["uid"], {}).get(key) != now
        ]

    def deployments_to_wake(self, body: kopf.Body, *, deleted: bool) -> list[tuple[str, str]]:
        """(uid, name) of each known deployment of the fine-tune's namespace whose last reconcile
        read the fine-tune's adapters (``finetune_adapters.fingerprint``) differently from now.

        Level-based: the deployment it names now and one it named before (whose last
        plan still lists its adapters) both compare what they saw with what it gives them.
        """
        key = (finetune_adapters.KIND, body.metadata.name or "")
        out = []
        for uid, scd in list(self.bodies.items()):
            if scd.metadata.namespace != body.metadata.namespace:
                continue
            now = "" if deleted else finetune_adapters.fingerprint(scd.metadata.name or "", body)
            if self.children.get(uid, {}).get(key, "") != now:
                out.append((uid, scd.metadata.name or ""))
        return out


async def run(rt: Runtime, uid: str, *, timer: bool = False) -> ReconcileResult | None:
    """Reconcile one resource under its lock; ``None`` when coalesced into a queued run or gone."""
    if uid in rt.queued and not timer:
        return None
    rt.queued.add(uid)
    rt.metrics.queue_depth.set(len(rt.queued))
    async with rt.lock(uid), rt.slots:
        rt.queued.discard(uid)  # until here, newer triggers of this resource join this run
        rt.metrics.queue_depth.set(len(rt.queued))
        body = rt.bodies.get(uid)
        if body is None:
            return None
        generation = body.metadata.get("generation")
        started = time.perf_counter()
        try:
            # the resync reads everything again; a woken reconcile trusts what it applied itself
            memory = None if timer else rt.remembered.get(uid)
            result = await reconcile(body, rt.deps, timer=timer, remembered=memory)
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
        rt.children[uid] = result.children
        rt.remembered[uid] = result.remembered
    if result.sample is not None:
        rt.metrics.record(result.sample)
    return result


async def run_with_retries(rt: Runtime, uid: str, what: str) -> ReconcileResult | None:
    """:func:`run`, retried with back-off on a passing API refusal; other failures are logged."""
    for delay in (*RETRY_DELAYS_S, None):
        try:
            return await run(rt, uid)
        except Retryable as exc:
            if delay is None:
                log.warning("Reconcile of SeedCoderDeployment %s deferred to the resync: %s", what, exc)
                return None
            log.info("Reconcile of SeedCoderDeployment %s retried in %.0fs: %s", what, delay, exc)
            await asyncio.sleep(delay)
        except ApiError as exc:
            log.error("Reconcile of SeedCoderDeployment %s failed: %s", what, exc)
            return None
    return None


async def resync_forever(rt: Runtime, interval_s: float) -> None:
    """Reconcile every known resource once per ``interval_s`` (the autoscaler runs here too).

    Paced, not in bursts: the resources are spread over the interval (one every
    ``interval_s / N``), so a busy operator's sweep never queues a new resource
    behind a hundred settled ones.
    """
    await asyncio.sleep(interval_s)
    while True:
        started = time.monotonic()
        uids = list(rt.bodies)
        for i, uid in enumerate(uids):
            await _sleep_until(started + interval_s * i / len(uids))
            body = rt.bodies.get(uid)
            if body is None:
                continue
            what = f"{body.metadata.namespace}/{body.metadata.name}"
            try:
                await run(rt, uid, timer=True)
            except Exception as exc:  # one resource's failure must not stop the others' resync
                log.warning("Resync of SeedCoderDeployment %s failed: %s", what, exc)
        await _sleep_until(started + interval_s)


async def _sleep_until(deadline: float) -> None:
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))


def register(registry: kopf.OperatorRegistry) -> None:
    """Register every handler on ``registry``."""
    resource = (GROUP, VERSION, PLURAL)

    @kopf.on.login(registry=registry, id="login")
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        info: kopf.ConnectionInfo | None = kopf.login_with_service_account(
            **kwargs
        ) or kopf.login_with_kubeconfig(**kwargs)
        return info

    @kopf.on.event(*resource, registry=registry, id="reconcile")
    async def on_resource(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        rt: Runtime = memo["runtime"]
        uid = body.metadata.uid or ""
        if type == "DELETED":  # its children go with it (garbage collection); only metrics remain
            rt.forget(uid)
            return
        rt.seen(body)
        if rt.spec_changed(body):
            result = await run_with_retries(rt, uid, f"{body.metadata.namespace}/{body.metadata.name}")
            if result is not None and result.invalid is not None:
                log.warning(
                    "SeedCoderDeployment %s/%s is invalid: %s",
                    body.metadata.namespace,
                    body.metadata.name,
                    result.invalid,
                )

    def on_child(kind: str) -> Any:
        async def handler(body: kopf.Body, memo: kopf.Memo, namespace: str | None, **_: Any) -> None:
            rt: Runtime = memo["runtime"]
            for uid, name in rt.owners_to_wake(kind, body):
                await run_with_retries(rt, uid, f"{namespace}/{name}")

        return handler

    managed = {names.LABEL_MANAGED_BY: names.MANAGED_BY}
    kopf.on.event("batch", "v1", "jobs", registry=registry, id="build-job-changed", labels=managed)(
        on_child("Job")
    )
    kopf.on.event("apps", "v1", "deployments", registry=registry, id="deployment-changed", labels=managed)(
        on_child("Deployment")
    )

    @kopf.on.event(GROUP, VERSION, finetune_api.PLURAL, registry=registry, id="finetune-adapters-changed")
    async def on_finetune(
        type: str | None, body: kopf.Body, memo: kopf.Memo, namespace: str | None, **_: Any
    ) -> None:
        """A fine-tune's staged or published adapter changed: its deployment's gateway lists it."""
        rt: Runtime = memo["runtime"]
        for uid, name in rt.deployments_to_wake(body, deleted=type == "DELETED"):
            await run_with_retries(rt, uid, f"{namespace}/{name}")

    @kopf.on.probe(registry=registry, id="reconciles")
    def reconciles(memo: kopf.Memo, **_: Any) -> int:
        rt: Runtime = memo["runtime"]
        return len(rt.bodies)


def kopf_settings(settings: kopf.OperatorSettings) -> kopf.OperatorSettings:
    """Kopf's own settings: no Kopf events (we post our own); its storages stay unused (no such handlers)."""
    settings.posting.enabled = False
    settings.scanning.disabled = True  # one discovery at start; no cluster-wide CRD watch needed
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 60
    return settings

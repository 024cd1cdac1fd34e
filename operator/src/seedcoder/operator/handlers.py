"""Thin Kopf handlers: every one of them runs the same level-based reconcile.

Why thin: create, update, resume, the resync timer, and changes of the build
Jobs and Deployments a resource uses all mean "make it so again"; none of them
looks at the event's diff. (One more handler only drops a deleted resource's
series from the operator's metrics.) Handlers are registered on a registry passed
in (never at import time), so importing this package registers nothing.

Bursts are coalesced: one lock per resource keeps two reconciles of it apart,
a trigger that arrives while another is already queued is dropped (the queued
one reads the newest state anyway, and takes the newest body from the index),
and child events whose status did not change (e.g. the operator's own
ownerReference edits of a shared Job) trigger nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import kopf

from seedcoder.api.resource import GROUP, PLURAL, VERSION
from seedcoder.operator import names
from seedcoder.operator.kube import ApiError
from seedcoder.operator.metrics import OperatorMetrics
from seedcoder.operator.reconcile import Deps, Result, reconcile

log = logging.getLogger(__name__)
INDEX = "scd_by_name"
Index = Mapping[tuple[str | None, str], Any]


class Runtime:
    """Per-operator state kept in Kopf's memo: dependencies, metrics, locks, coalescing."""

    def __init__(self, deps: Deps, metrics: OperatorMetrics) -> None:
        self.deps = deps
        self.metrics = metrics
        self.locks: dict[str, asyncio.Lock] = {}
        self.queued: set[str] = set()
        self.child_state: dict[str, str] = {}

    def lock(self, uid: str) -> asyncio.Lock:
        return self.locks.setdefault(uid, asyncio.Lock())

    def child_changed(self, body: kopf.Body) -> bool:
        """Whether a child's generation or status differs from the last event seen for it."""
        uid = body.metadata.uid or ""
        state = json.dumps([body.metadata.get("generation"), body.get("status")], sort_keys=True)
        if self.child_state.get(uid) == state:
            return False
        self.child_state[uid] = state
        return True


def _latest(index: Index, body: kopf.Body) -> Any:
    """The newest body of this resource the index holds (the given one if none)."""
    for candidate in index.get((body.metadata.namespace, body.metadata.name), []):
        if candidate.metadata.uid == body.metadata.uid:
            return candidate
    return body


async def run(rt: Runtime, body: kopf.Body, index: Index, *, timer: bool = False) -> Result | None:
    """Reconcile one resource under its lock; ``None`` when coalesced into a queued run."""
    uid = body.metadata.uid or ""
    if uid in rt.queued and not timer:
        return None
    rt.queued.add(uid)
    async with rt.lock(uid):
        rt.queued.discard(uid)
        started = time.perf_counter()
        try:
            result = await reconcile(_latest(index, body), rt.deps, timer=timer)
        except ApiError as exc:
            rt.metrics.reconcile_errors.labels(reason=exc.reason or str(exc.status)).inc()
            if exc.status in (409, 422, 429) or exc.status >= 500:
                raise kopf.TemporaryError(f"API answered {exc}; retrying", delay=1) from exc
            raise
        except Exception as exc:
            rt.metrics.reconcile_errors.labels(reason=type(exc).__name__).inc()
            raise
        finally:
            rt.metrics.reconcile_seconds.observe(time.perf_counter() - started)
    if result.sample is not None:
        rt.metrics.record(result.sample)
    return result


def register(registry: kopf.OperatorRegistry, resync_seconds: float) -> None:
    """Register every handler on ``registry``."""
    resource = (GROUP, VERSION, PLURAL)

    @kopf.on.login(registry=registry, id="login")
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        info: kopf.ConnectionInfo | None = kopf.login_with_service_account(
            **kwargs
        ) or kopf.login_with_kubeconfig(**kwargs)
        return info

    @kopf.index(*resource, registry=registry, id=INDEX)
    def scd_by_name(
        name: str, namespace: str | None, body: kopf.Body, **_: Any
    ) -> dict[tuple[str | None, str], kopf.Body]:
        return {(namespace, name): body}

    @kopf.on.create(*resource, registry=registry, id="reconcile-on-create")
    @kopf.on.update(*resource, registry=registry, id="reconcile-on-update", field="spec")
    @kopf.on.resume(*resource, registry=registry, id="reconcile-on-resume")
    async def on_change(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
        result = await run(memo["runtime"], body, kwargs[INDEX])
        if result is not None and result.invalid is not None:
            raise kopf.PermanentError(f"Invalid spec: {result.invalid}")

    @kopf.timer(
        *resource, registry=registry, id="resync", interval=resync_seconds, initial_delay=resync_seconds
    )
    async def resync(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
        await run(memo["runtime"], body, kwargs[INDEX], timer=True)

    @kopf.on.event(*resource, registry=registry, id="forget-deleted")
    def forget_deleted(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        if type == "DELETED":  # its children go with it (garbage collection); only metrics remain
            rt: Runtime = memo["runtime"]
            rt.metrics.forget(body.metadata.uid or "")

    async def on_child(body: kopf.Body, memo: kopf.Memo, namespace: str | None, **kwargs: Any) -> None:
        rt: Runtime = memo["runtime"]
        if not rt.child_changed(body):
            return
        index: Index = kwargs[INDEX]
        for ref in body.metadata.get("ownerReferences") or []:
            if ref.get("kind") != "SeedCoderDeployment":
                continue
            for owner in index.get((namespace, ref.get("name")), []):
                if owner.metadata.uid == ref.get("uid"):
                    try:
                        await run(rt, owner, index)
                    except (kopf.TemporaryError, ApiError) as exc:
                        log.info(
                            "Reconcile of SeedCoderDeployment %s/%s deferred: %s", namespace, ref["name"], exc
                        )

    managed = {names.LABEL_MANAGED_BY: names.MANAGED_BY}
    kopf.on.event("batch", "v1", "jobs", registry=registry, id="build-job-changed", labels=managed)(on_child)
    kopf.on.event("apps", "v1", "deployments", registry=registry, id="deployment-changed", labels=managed)(
        on_child
    )

    @kopf.on.probe(registry=registry, id="reconciles")
    def reconciles(memo: kopf.Memo, **_: Any) -> int:
        rt: Runtime = memo["runtime"]
        return len(rt.locks)


def kopf_settings(settings: kopf.OperatorSettings) -> kopf.OperatorSettings:
    """Kopf's own settings: our annotations for its bookkeeping, no Kopf events (we post our own)."""
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="seedcoder.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="seedcoder.dev", key="last-handled-configuration"
    )
    settings.posting.enabled = False
    settings.scanning.disabled = True  # one discovery at start; no cluster-wide CRD watch needed
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 60
    return settings

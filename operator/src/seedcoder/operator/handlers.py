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

A child's event triggers its owner only when what the reconcile reads of the
child (its fingerprint) differs from what the owner's last reconcile saw or left:
the operator's own applies, its ownerReference edits of a shared Job and the
controllers' bookkeeping trigger nothing. Locks, coalescing, bounded concurrency,
retries and the paced resync are :mod:`seedcoder.operator.loop`'s, shared with
the SeedCoderFineTune handlers.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from seedcoder.api import finetune as finetune_api
from seedcoder.api.resource import GROUP, KIND, PLURAL, VERSION
from seedcoder.operator.loop import ReconcileLoop
from seedcoder.operator.metrics import OperatorMetrics
from seedcoder.operator.objects import finetune_adapters, names
from seedcoder.operator.objects.observed import fingerprint
from seedcoder.operator.reconcile.reconciler import ReconcileDeps, ReconcileResult, reconcile
from seedcoder.operator.settings import FIELD_MANAGER

log = logging.getLogger(__name__)


class Runtime:
    """Per-operator state kept in Kopf's memo: dependencies, metrics, the loop, what reconciles saw."""

    def __init__(self, deps: ReconcileDeps, metrics: OperatorMetrics) -> None:
        self.deps = deps
        self.metrics = metrics
        self.loop: ReconcileLoop[ReconcileResult] = ReconcileLoop(
            "SeedCoderDeployment",
            self._reconcile,
            metrics,
            max_concurrent=deps.settings.max_concurrent_reconciles,
            done=self._done,
        )
        self.remembered: dict[str, dict[tuple[str, str], dict[str, Any]] | None] = {}
        """Per resource uid: its last reconcile's memory of the children only the operator changes."""
        self.children: dict[str, dict[tuple[str, str], str]] = {}
        """Per resource uid: the fingerprints of its child Deployments and Jobs its last reconcile saw."""

    @property
    def bodies(self) -> dict[str, kopf.Body]:
        return self.loop.bodies

    def seen(self, body: kopf.Body) -> None:
        self.loop.seen(body)
        self.metrics.resources.set(len(self.bodies))

    def forget(self, uid: str) -> None:
        self.loop.forget(uid)
        self.children.pop(uid, None)
        self.remembered.pop(uid, None)
        self.metrics.forget(uid)
        self.metrics.resources.set(len(self.bodies))

    async def _reconcile(self, uid: str, body: kopf.Body, timer: bool) -> ReconcileResult:
        # the resync reads everything again; a woken reconcile trusts what it applied itself
        memory = None if timer else self.remembered.get(uid)
        return await reconcile(body, self.deps, timer=timer, remembered=memory)

    def _done(self, uid: str, result: ReconcileResult) -> None:
        self.children[uid] = result.children
        self.remembered[uid] = result.remembered
        if result.sample is not None:
            self.metrics.record(result.sample)

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
        if rt.loop.spec_changed(body):
            result = await rt.loop.run_with_retries(uid, f"{body.metadata.namespace}/{body.metadata.name}")
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
                await rt.loop.run_with_retries(uid, f"{namespace}/{name}")

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
            await rt.loop.run_with_retries(uid, f"{namespace}/{name}")

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

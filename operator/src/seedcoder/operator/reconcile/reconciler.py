"""The one level-based reconcile every handler calls: observe, plan, apply, report.

Why one function: create, update, resume, the resync timer and changes of child
objects all mean the same thing ("make the world match the spec"), so they all
run this. Writes are server-side applies with the one field manager
``seedcoder-operator``, skipped when the live object already carries the hash of
the desired manifest, so a resync of a settled resource writes nothing at all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from seedcoder.api.resource import API_VERSION, KIND, SeedCoderDeployment
from seedcoder.api.status import ScaleEvent, SloStatus
from seedcoder.operator.hooks import Autoscale, MonitoringObjects, ScalablePool
from seedcoder.operator.kube import ApiError, Kube
from seedcoder.operator.objects import finetune_adapters, gateway_objects, names, retrieval_objects
from seedcoder.operator.objects.desired import Plan, plan
from seedcoder.operator.objects.engineplan import InvalidSpec, PoolEngine, cache_problem, plan_engines
from seedcoder.operator.objects.observed import fingerprint
from seedcoder.operator.reconcile import events, jobsync, metrics_sample
from seedcoder.operator.reconcile.metrics_sample import ResourceSample
from seedcoder.operator.reconcile.observe import REMEMBERED_KINDS, LiveState, observe, remember
from seedcoder.operator.reconcile.status_calc import ScalingView, compute, invalid
from seedcoder.operator.settings import FIELD_MANAGER, OperatorSettings

log = logging.getLogger(__name__)
MONITORING_KINDS = ("PodMonitor", "PrometheusRule")


@dataclass
class ReconcileDeps:
    """What a reconcile needs besides the resource (held in Kopf's memo)."""

    kube: Kube
    settings: OperatorSettings
    autoscale: Autoscale | None = None
    monitoring: MonitoringObjects | None = None
    monitoring_api: bool = False
    instance: str = "seedcoder-operator"
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass
class ReconcileResult:
    """What happened, for handlers and tests."""

    invalid: str | None = None
    ready: bool = False
    waiting: bool = False
    """Something is still converging (a build, a rollout): worth looking again soon."""
    sample: ResourceSample | None = None
    """What this reconcile saw, for the operator's metrics (None: the resource is going away)."""
    children: dict[tuple[str, str], str] = field(default_factory=dict)
    """The fingerprint of every child Deployment and build Job as this reconcile left them."""
    remembered: dict[tuple[str, str], dict[str, Any]] | None = None
    """What this reconcile left of the children only the operator changes (see ``observe``)."""


def _rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _monitoring(deps: ReconcileDeps, scd: SeedCoderDeployment) -> list[dict[str, Any]]:
    if deps.monitoring is None or not deps.monitoring_api:
        return []
    return list(deps.monitoring(scd))


async def _apply_owned(
    deps: ReconcileDeps, scd: SeedCoderDeployment, p: Plan, snap: LiveState
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], dict[str, Any]]]:
    """Apply what changed and delete what is no longer wanted.

    Returns the applied objects as the API left them, and the memory of the
    remembered kinds (see :func:`observe.remember`) as they are now.
    """
    from seedcoder.operator.objects.desired import must_replace

    wanted: set[tuple[str, str]] = {("Deployment", name) for name in p.kept}
    changed = []
    for manifest in p.owned:
        key = (manifest["kind"], manifest["metadata"]["name"])
        wanted.add(key)
        live = snap.live.get(key)
        digest = manifest["metadata"]["annotations"][names.ANNOTATION_HASH]
        if (
            live is not None
            and (live["metadata"].get("annotations") or {}).get(names.ANNOTATION_HASH) == digest
        ):
            continue
        if must_replace(manifest, live) and live is not None:
            log.info("Replaced Service %s/%s: it became headless.", scd.metadata.namespace, key[1])
            await deps.kube.delete(key[0], scd.metadata.namespace, key[1], uid=live["metadata"].get("uid"))
        changed.append(manifest)
    # independent objects: send the applies together (the API server orders nothing between them)
    applied = await asyncio.gather(*(deps.kube.apply(m, FIELD_MANAGER) for m in changed))
    for (kind, name), obj in snap.live.items():
        if (kind, name) not in wanted:
            await deps.kube.delete(kind, scd.metadata.namespace, name, uid=obj["metadata"].get("uid"))
    memory = {
        key: remember(obj) for key, obj in snap.live.items() if key[0] in REMEMBERED_KINDS and key in wanted
    }
    for obj in applied:
        if obj.get("kind") in REMEMBERED_KINDS:
            memory[(obj["kind"], obj["metadata"]["name"])] = remember(obj)
    return list(applied), memory


def _children(
    scd: SeedCoderDeployment, snap: LiveState, applied: list[dict[str, Any]]
) -> dict[tuple[str, str], str]:
    """Fingerprints of the Deployments and build Jobs as this reconcile saw or left them, and of
    what it read of the namespace's SeedCoderFineTunes (their adapters, ``finetune_adapters``)."""
    seen = {
        (kind, name): fingerprint(kind, obj, FIELD_MANAGER)
        for (kind, name), obj in snap.live.items()
        if kind == "Deployment"
    }
    for job in [*snap.raw_jobs.values(), *snap.gate_jobs]:
        seen[("Job", job["metadata"]["name"])] = fingerprint("Job", job, FIELD_MANAGER)
    for ft in snap.finetunes:
        name = str((ft.get("metadata") or {}).get("name") or "")
        seen[(finetune_adapters.KIND, name)] = finetune_adapters.fingerprint(scd.metadata.name, ft)
    for obj in applied:
        if obj.get("kind") == "Deployment":
            seen[("Deployment", obj["metadata"]["name"])] = fingerprint("Deployment", obj, FIELD_MANAGER)
    return seen


async def _autoscale(
    deps: ReconcileDeps, scd: SeedCoderDeployment, pools: list[PoolEngine], snap: LiveState, now: datetime
) -> ScalingView | None:
    if deps.autoscale is None or scd.spec.autoscaling.mode != "slo":
        return None
    obs = []
    for pe in pools:
        dep = snap.observed.triton.get(pe.pool.name)
        obs.append(
            ScalablePool(
                name=pe.pool.name,
                gpu=pe.profile.gpu,
                namespace=scd.metadata.namespace,
                deployment=names.triton(scd.metadata.name, pe.pool.name),
                replicas=dep.spec_replicas if dep else 0,
                ready_replicas=dep.ready_replicas if dep else 0,
                min_replicas=pe.pool.min_replicas,
                max_replicas=pe.pool.max_replicas,
                serving=dep is not None,
            )
        )
    try:
        outcome = await deps.autoscale(deps.kube, scd, obs, now, deps.settings)
    except Exception:  # the autoscaler must never stop the resource from being reconciled
        log.exception("Autoscaling SeedCoderDeployment %s failed", scd.metadata.name)
        return None
    slo = None
    if outcome.slo is not None:
        slo = SloStatus(
            ttft_p95_ms=round(outcome.slo.ttft_p95_ms),
            met=outcome.slo.met,
            observed_at=_rfc3339(outcome.slo.observed_at),
        )
    scale_events = [
        ScaleEvent.model_validate(
            {
                "time": _rfc3339(datetime.fromtimestamp(d.decided_at, UTC) if d.decided_at else now),
                "pool": d.pool,
                "from": d.from_replicas,
                "to": d.to_replicas,
                "reason": f"{d.cause}: {d.reason}"[:1024],
            }
        )
        for d in outcome.decisions
    ]
    return ScalingView(desired=dict(outcome.desired), events=scale_events, slo=slo)


async def _write_status(deps: ReconcileDeps, scd: SeedCoderDeployment, status: Any) -> None:
    if status == scd.status:
        return
    body = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": scd.metadata.name, "namespace": scd.metadata.namespace},
        "status": status.wire(),
    }
    await deps.kube.apply(body, FIELD_MANAGER, subresource="status")


async def _get_optional(kube: Kube, kind: str, scd: SeedCoderDeployment, name: str) -> dict[str, Any] | None:
    """``kind``/``name`` in the resource's namespace; None when absent or not readable (403)."""
    try:
        return await kube.get(kind, scd.metadata.namespace, name)
    except ApiError as exc:
        if exc.status == 403:
            return None
        raise


async def reconcile(
    body: Mapping[str, Any],
    deps: ReconcileDeps,
    *,
    timer: bool = False,
    remembered: Mapping[tuple[str, str], dict[str, Any]] | None = None,
) -> ReconcileResult:
    """Make the world match one SeedCoderDeployment and report it in its status.

    ``remembered``: the previous reconcile's :attr:`ReconcileResult.remembered`, so that the
    children only the operator changes are not listed again (None: list everything,
    as the resync does, which repairs what someone else changed or deleted).
    """
    scd = SeedCoderDeployment.parse(body)
    if scd.metadata.deletion_timestamp:
        return ReconcileResult()  # the garbage collector removes what it owns
    now = deps.clock()
    stamp_now = _rfc3339(now)
    try:
        pools = plan_engines(scd.spec, deps.settings)
        claim = scd.spec.engine.cache.pvc.claim_name
        if problem := cache_problem(
            scd.spec, await _get_optional(deps.kube, "PersistentVolumeClaim", scd, claim)
        ):
            raise problem
    except InvalidSpec as exc:
        status, transitions = invalid(scd, exc.field, exc.message, stamp_now)
        await _write_status(deps, scd, status)
        await events.post(deps.kube, scd, transitions, now, deps.instance)
        return ReconcileResult(invalid=str(exc), sample=metrics_sample.invalid_sample(scd))
    extra = MONITORING_KINDS if deps.monitoring is not None and deps.monitoring_api else ()
    snap = await observe(deps.kube, scd, extra, remembered)
    needed = {pe.key for pe in pools}
    if await jobsync.retry_failed(deps.kube, scd, snap.observed.jobs, needed, now, deps.settings):
        snap = await observe(deps.kube, scd, extra, remembered)
    snap.observed.read_at = now
    p = plan(scd, pools, snap.observed, deps.settings, _monitoring(deps, scd))
    await jobsync.sync_jobs(deps.kube, scd, p, snap.observed.jobs, snap.raw_jobs)
    applied, memory = await _apply_owned(deps, scd, p, snap)
    scaling = await _autoscale(deps, scd, pools, snap, now) if timer else None
    endpoint = gateway_objects.endpoint(
        scd.metadata.name, scd.metadata.namespace, deps.settings.cluster_domain
    )
    status, transitions = compute(
        scd,
        pools,
        snap.observed,
        p,
        scaling,
        endpoint=endpoint,
        retry_seconds=deps.settings.build_retry_seconds,
        now=stamp_now,
    )
    if scd.spec.retrieval is not None:
        status = status.model_copy(
            update={"retrieval": retrieval_objects.index_status(snap.index_pods, snap.index_jobs)}
        )
    await _write_status(deps, scd, status)
    await events.post(deps.kube, scd, transitions, now, deps.instance)
    if scaling is not None:
        await events.post_scaling(deps.kube, scd, scaling.events, now, deps.instance)
    ready = any(c.type == "Ready" and c.status == "True" for c in status.conditions)
    progressing = any(c.type == "Progressing" and c.status == "True" for c in status.conditions)
    sample = metrics_sample.sample(
        scd, pools, status, snap.observed.jobs.values(), scaling.events if scaling else ()
    )
    return ReconcileResult(
        ready=ready,
        waiting=progressing or bool(p.new_jobs),
        sample=sample,
        children=_children(scd, snap, applied),
        remembered=memory,
    )

"""Read what exists for one resource: its children, and the namespace's build Jobs.

Why one read step: a level-based reconcile decides from the whole observed state,
read fresh each time (a handful of label-selected lists per resource), never
from the diff of the event that woke it.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from seedcoder.api.resource import SeedCoderDeployment
from seedcoder.operator.kube import ApiError, Kube
from seedcoder.operator.objects import engine_gate, finetune_adapters, names, retrieval_objects
from seedcoder.operator.objects.desired import Observed
from seedcoder.operator.objects.observed import parse_deployment, parse_job
from seedcoder.operator.settings import FIELD_MANAGER

OWNED_KINDS = ("Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "NetworkPolicy")
REMEMBERED_KINDS = ("Service", "ConfigMap", "PodDisruptionBudget", "NetworkPolicy")
"""Children nothing but the operator changes and no decision reads back: between two
resyncs a reconcile may take them from its own memory of what it applied."""
INDEX_KINDS = ("CronJob",)
"""Children of retrieval only: listed while it is configured, or may have left some behind."""
JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")
BUILD_CONTAINER = "build"
LOG_LINES = 20
"""Enough for the last report line of a build (one per stage step) among other output."""


@dataclass
class LiveState:
    """Observed state plus the raw live objects owned by the resource, by (kind, name)."""

    observed: Observed
    live: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    raw_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    index_pods: list[dict[str, Any]] = field(default_factory=list)
    """Pods of the resource's indexing runs (their termination messages are the index status)."""
    index_jobs: list[dict[str, Any]] = field(default_factory=list)
    """The resource's indexing Jobs, the CronJob's included (a failed one with no report)."""
    finetunes: list[dict[str, Any]] = field(default_factory=list)
    """The namespace's SeedCoderFineTunes (those naming the resource give the gateway its adapters)."""
    gate_jobs: list[dict[str, Any]] = field(default_factory=list)
    """The resource's engine gate Jobs (``engine_gate``)."""


def may_have_index_objects(scd: SeedCoderDeployment) -> bool:
    """Whether retrieval's CronJob and Jobs are worth listing: three lists a reconcile saves otherwise.

    They exist while retrieval is configured, and may linger right after it was
    removed: the status still shows the index, or the spec changed since the
    status was last written (a reconcile that created them and stopped before
    its status write).
    """
    return (
        scd.spec.retrieval is not None
        or scd.status.retrieval is not None
        or scd.status.observed_generation != scd.metadata.generation
    )


def may_have_gate_objects(scd: SeedCoderDeployment) -> bool:
    """Whether the engine gate's Jobs are worth listing: while it is configured, or the status
    still shows a pool's gate (a Job left to delete after the gate was removed)."""
    return scd.spec.engine.gate is not None or any(p.engine_gate is not None for p in scd.status.pools)


def _owned_by(obj: dict[str, Any], uid: str) -> bool:
    return any(o.get("uid") == uid for o in (obj.get("metadata") or {}).get("ownerReferences") or [])


def remember(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The little of a child that the next reconcile needs: name, uid, desired hash, a Service's clusterIP."""
    meta = obj.get("metadata") or {}
    out: dict[str, Any] = {
        "metadata": {
            "name": meta.get("name"),
            "uid": meta.get("uid"),
            "annotations": {
                names.ANNOTATION_HASH: (meta.get("annotations") or {}).get(names.ANNOTATION_HASH, "")
            },
        }
    }
    if "clusterIP" in (obj.get("spec") or {}):
        out["spec"] = {"clusterIP": obj["spec"]["clusterIP"]}
    return out


async def observe(
    kube: Kube,
    scd: SeedCoderDeployment,
    extra_kinds: tuple[str, ...] = (),
    remembered: Mapping[tuple[str, str], dict[str, Any]] | None = None,
) -> LiveState:
    """What exists for ``scd``; with ``remembered`` (the operator's memory of the
    :data:`REMEMBERED_KINDS` it applied since the last full read), those are not listed."""
    ns, uid = scd.metadata.namespace, scd.metadata.uid
    selector = names.instance_selector(scd.metadata.name)
    live: dict[tuple[str, str], dict[str, Any]] = dict(remembered or {})
    indexing = may_have_index_objects(scd)
    gated = may_have_gate_objects(scd)
    owned = OWNED_KINDS if remembered is None else tuple(k for k in OWNED_KINDS if k not in REMEMBERED_KINDS)
    kinds = (*owned, *(INDEX_KINDS if indexing else ()), *extra_kinds)
    *listed, jobs, finetunes = await asyncio.gather(
        *(kube.list(kind, ns, selector) for kind in kinds),
        kube.list("Job", ns, names.BUILD_SELECTOR),
        kube.list(finetune_adapters.KIND, ns),
    )
    gate_jobs = await kube.list("Job", ns, engine_gate.gate_selector(scd.metadata.name)) if gated else []
    gate_pods = await kube.list("Pod", ns, engine_gate.gate_selector(scd.metadata.name)) if gate_jobs else []
    index_selector = retrieval_objects.index_selector(scd.metadata.name)
    index_jobs = await kube.list("Job", ns, index_selector) if indexing else []
    index_pods = await kube.list("Pod", ns, index_selector) if scd.spec.retrieval is not None else []
    for kind, objs in [*zip(kinds, listed, strict=True), ("Job", index_jobs), ("Job", gate_jobs)]:
        for obj in objs:
            if _owned_by(obj, uid):
                live[(kind, obj["metadata"]["name"])] = obj
    pods_by_job: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if any(not _finished(j) for j in jobs):
        for pod in await kube.list("Pod", ns, f"{names.LABEL_COMPONENT}={names.COMPONENT_BUILD}"):
            labels = pod["metadata"].get("labels") or {}
            job_name = next((labels[k] for k in JOB_NAME_LABELS if k in labels), None)
            if job_name:
                pods_by_job[job_name].append(pod)
    logs = await _running_logs(kube, ns, [p for group in pods_by_job.values() for p in group])
    views = [parse_job(j, pods_by_job.get(j["metadata"]["name"], []), logs) for j in jobs]
    observed = Observed(
        jobs={v.key: v for v in views if v.key},
        adapters=finetune_adapters.deployment_adapters(scd.metadata.name, finetunes),
        gate_jobs=_gate_jobs(gate_jobs, gate_pods, scd.metadata.uid),
    )
    for (kind, _name), obj in live.items():
        if kind != "Deployment":
            continue
        labels = obj["metadata"].get("labels") or {}
        view = parse_deployment(obj, FIELD_MANAGER)
        if labels.get(names.LABEL_COMPONENT) == names.COMPONENT_TRITON and names.LABEL_POOL in labels:
            observed.triton[labels[names.LABEL_POOL]] = view
        elif labels.get(names.LABEL_COMPONENT) == names.COMPONENT_CANARY and names.LABEL_POOL in labels:
            observed.canaries[labels[names.LABEL_POOL]] = view
        elif labels.get(names.LABEL_COMPONENT) == names.COMPONENT_GATEWAY:
            observed.gateway = view
    return LiveState(
        observed=observed,
        live=live,
        raw_jobs={j["metadata"]["name"]: j for j in jobs},
        index_pods=index_pods,
        index_jobs=index_jobs,
        finetunes=finetunes,
        gate_jobs=[j for j in gate_jobs if _owned_by(j, uid)],
    )


def _gate_jobs(
    jobs: list[dict[str, Any]], pods: list[dict[str, Any]], uid: str
) -> dict[str, engine_gate.GateJobView]:
    """The resource's engine gate Jobs by name, each with the pods it ran."""
    by_job: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for pod in pods:
        labels = pod["metadata"].get("labels") or {}
        job_name = next((labels[k] for k in JOB_NAME_LABELS if k in labels), None)
        if job_name:
            by_job[job_name].append(pod)
    return {
        j["metadata"]["name"]: engine_gate.parse_gate_job(j, by_job.get(j["metadata"]["name"], []))
        for j in jobs
        if _owned_by(j, uid)
    }


async def _running_logs(kube: Kube, ns: str, pods: list[dict[str, Any]]) -> dict[str, str]:
    """Log tails of running build pods, by pod name: their progress before they end.

    The termination message is written only when the container exits, so a running
    build shows its stage and percent only in its log. A log that cannot be read (no
    kubelet behind a simulated node, a pod just gone) is simply left out.
    """
    running = [p["metadata"]["name"] for p in pods if (p.get("status") or {}).get("phase") == "Running"]

    async def tail(name: str) -> tuple[str, str | None]:
        try:
            return name, await kube.log_tail(ns, name, BUILD_CONTAINER, LOG_LINES)
        except (ApiError, httpx.HTTPError):
            return name, None

    found = await asyncio.gather(*(tail(n) for n in running))
    return {name: text for name, text in found if text}


def _finished(job: dict[str, Any]) -> bool:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Complete" and cond.get("status") == "True":
            return True
    return False

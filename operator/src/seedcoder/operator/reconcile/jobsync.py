"""Keep the shared build Jobs' ownership right: create, adopt, release, retry.

Why its own step: a build Job may serve several resources, so it carries one
ownerReference per resource that needs its engine, and the garbage collector
deletes it only when the last of them is gone ("deleting a resource never deletes
an engine another resource uses"). Ownership changes are JSON patches that the
API server applies to the newest version (an append, or a remove guarded by a
``test`` of the uid at that position), so resources adopting or releasing the same
Job at once never lose each other's reference. A Job that failed for good is
deleted after a pause so the next reconcile starts a fresh attempt.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from seedcoder.api.resource import SeedCoderDeployment
from seedcoder.operator.kube import Kube
from seedcoder.operator.objects.desired import Plan
from seedcoder.operator.objects.observed import JobView
from seedcoder.operator.settings import FIELD_MANAGER, OperatorSettings


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def retry_due(job: JobView, now: datetime, settings: OperatorSettings) -> bool:
    """A failed Job whose pause is over (it will be deleted and built again).

    A permanent failure (the pod failure policy failed the Job: the same inputs fail
    the same way) is never retried by itself: a spec change (a new engine key) or
    deleting the Job starts the next attempt, so a broken build does not burn GPU
    hours in a loop.
    """
    if not job.failed or job.permanent_failure:
        return False
    failed_at = _parse_time(job.failed_at)
    return failed_at is None or now - failed_at >= timedelta(seconds=settings.build_retry_seconds)


async def retry_failed(
    kube: Kube,
    scd: SeedCoderDeployment,
    jobs: dict[str, JobView],
    keys: set[str],
    now: datetime,
    settings: OperatorSettings,
) -> list[str]:
    """Delete failed Jobs of ``keys`` whose pause is over; returns the keys deleted."""
    deleted = []
    for key in sorted(keys):
        job = jobs.get(key)
        if job is not None and retry_due(job, now, settings):
            await kube.delete("Job", scd.metadata.namespace, job.name, uid=job.uid)
            deleted.append(key)
    return deleted


def _refs(job: dict[str, Any]) -> list[dict[str, Any]]:
    refs: list[dict[str, Any]] = list((job.get("metadata") or {}).get("ownerReferences") or [])
    return refs


async def sync_jobs(
    kube: Kube, scd: SeedCoderDeployment, plan: Plan, jobs: dict[str, JobView], raw: dict[str, dict[str, Any]]
) -> None:
    """Create missing Jobs, add this resource to Jobs it uses, drop it from Jobs it no longer uses."""
    ns, uid = scd.metadata.namespace, scd.metadata.uid
    me = scd.owner_reference(controller=False)
    for manifest in plan.new_jobs:
        manifest["metadata"]["ownerReferences"] = [me]
        await kube.create(manifest, FIELD_MANAGER)
    for key, view in jobs.items():
        live = raw.get(view.name)
        if live is None:
            continue
        refs = _refs(live)
        positions = [i for i, r in enumerate(refs) if r.get("uid") == uid]
        if key in plan.keys_in_use and not positions:
            # Appending is applied by the API server to the newest version: many resources
            # adopting one shared Job at once do not conflict with each other.
            ops: list[dict[str, Any]] = [{"op": "add", "path": "/metadata/ownerReferences/-", "value": me}]
            await kube.patch_json("Job", ns, view.name, ops, FIELD_MANAGER)
        elif key not in plan.keys_in_use and positions:
            if len(refs) == len(positions):
                await kube.delete("Job", ns, view.name, uid=view.uid)
                continue
            ops = []
            for i in reversed(
                positions
            ):  # "test" makes a concurrent reorder fail instead of removing another owner
                ops += [
                    {"op": "test", "path": f"/metadata/ownerReferences/{i}/uid", "value": uid},
                    {"op": "remove", "path": f"/metadata/ownerReferences/{i}"},
                ]
            await kube.patch_json("Job", ns, view.name, ops, FIELD_MANAGER)

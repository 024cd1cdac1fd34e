"""What the cluster shows of one fine-tuning run: its Jobs' states and their pods' reports.

Why a pure core (:func:`job_states`): the run step (``seedcoder.finetune.run``)
decides from ``JobState`` values, and how a Job plus its pods become one is the
part worth testing without a cluster. A data set or evaluation Job reports
through its pod's termination message; the kubelet writes it before the pod
ends, so a finished Job normally shows it at once. A finished Job without one
is waited for a short grace time (a late status write, a simulated node that
runs no program) before the stage fails for want of a report.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from seedcoder.finetune import plan
from seedcoder.finetune.run import JobState
from seedcoder.operator.kube import Kube
from seedcoder.operator.objects import names

STAGE_BY_COMPONENT = {
    plan.COMPONENT_DATASET: "dataset",
    plan.COMPONENT_TRAIN: "train",
    plan.COMPONENT_EVALUATE: "evaluate",
}
REPORTING = frozenset({"dataset", "evaluate"})
"""Stages whose result is the pod's termination message."""
JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")
Obj = dict[str, Any]


def run_selector(name: str, run: str) -> str:
    """Label selector of one run's Jobs and pods."""
    return f"{names.instance_selector(name)},{plan.LABEL_RUN}={run}"


def _condition(job: Obj, kind: str) -> Obj | None:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind and cond.get("status") == "True":
            return dict(cond)
    return None


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _report(pods: Iterable[Obj]) -> str:
    """The newest termination message among a Job's pods ("" when none left one)."""
    found: list[tuple[str, str]] = []
    for pod in pods:
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            term = (cs.get("state") or {}).get("terminated") or {}
            if term.get("message"):
                found.append((str(term.get("finishedAt") or ""), str(term["message"])))
    return max(found)[1] if found else ""


def _owned_by(obj: Obj, uid: str) -> bool:
    return any(o.get("uid") == uid for o in (obj.get("metadata") or {}).get("ownerReferences") or [])


def job_states(
    jobs: Iterable[Obj], pods: Iterable[Obj], uid: str, now: datetime, grace: timedelta
) -> dict[str, JobState]:
    """The run's Jobs owned by ``uid`` as ``JobState`` by stage key (dataset, train, evaluate)."""
    pods_by_job: dict[str, list[Obj]] = {}
    for pod in pods:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        job_name = next((labels[k] for k in JOB_NAME_LABELS if k in labels), None)
        if job_name:
            pods_by_job.setdefault(job_name, []).append(pod)
    out: dict[str, JobState] = {}
    for job in jobs:
        meta = job.get("metadata") or {}
        stage = STAGE_BY_COMPONENT.get((meta.get("labels") or {}).get(names.LABEL_COMPONENT, ""))
        if stage is None or not _owned_by(job, uid):
            continue
        report = _report(pods_by_job.get(str(meta.get("name")), []))
        if failed := _condition(job, "Failed"):
            why = f"{failed.get('reason') or 'Failed'}: {failed.get('message') or ''}".rstrip(": ")
            out[stage] = JobState("Failed", f"Job {meta.get('name')} failed ({why})" + (
                f"; {report}" if report else ""))  # fmt: skip
        elif complete := _condition(job, "Complete"):
            finished = _parse_time((job.get("status") or {}).get("completionTime")) or _parse_time(
                complete.get("lastTransitionTime")
            )
            waiting = stage in REPORTING and not report and (finished is None or now - finished < grace)
            out[stage] = JobState("Running") if waiting else JobState("Succeeded", report)
        else:
            out[stage] = JobState("Running")
    return out


async def observe_run(
    kube: Kube, namespace: str, name: str, uid: str, run: str, now: datetime, grace: timedelta
) -> dict[str, JobState]:
    """Read the run's Jobs and their pods (one labelled list each) and judge them."""
    selector = run_selector(name, run)
    jobs, pods = await asyncio.gather(
        kube.list("Job", namespace, selector), kube.list("Pod", namespace, selector)
    )
    return job_states(jobs, pods, uid, now, grace)

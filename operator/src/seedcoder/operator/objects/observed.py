"""Typed views of the live objects a reconcile reads (pure parsing, no API calls).

Why: business code must not poke at raw dicts; each live object the operator
decides on is parsed once here into the few fields that matter. Build progress
comes from three sources: the build program's JSON report lines in a running
pod's log (stage and percent while it runs), the report in a pod's termination
message (the result), and the Job's own conditions, which alone decide success:
the build program exits 0 only after it has published the
engine atomically, so a ``Complete`` Job means a usable engine in the cache. (In
the simulated test cluster pods run no program and leave no message; the state
then comes from the Job alone.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from seedcoder.engines.report import BuildReport, parse_termination_message
from seedcoder.operator.objects import names

Obj = Mapping[str, Any]


def _meta(obj: Obj) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = obj.get("metadata") or {}
    return meta


def _condition(obj: Obj, ctype: str) -> Mapping[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype and cond.get("status") == "True":
            found: Mapping[str, Any] = cond
            return found
    return None


@dataclass(frozen=True)
class OwnerRef:
    """An ownerReference (only what the operator compares)."""

    uid: str
    name: str
    kind: str
    api_version: str


@dataclass(frozen=True)
class PodReport:
    """What one build pod says about the build."""

    phase: str
    report: BuildReport | None
    reason: str
    exit_code: int | None
    created: str


def parse_pod(pod: Obj, log_tail: str | None = None) -> PodReport:
    """A build pod's phase, its build report (if it wrote one) and why it ended.

    A running pod has no termination message yet: its progress is the last report in
    ``log_tail`` (the build program prints one JSON line per step).
    """
    status = pod.get("status") or {}
    report: BuildReport | None = parse_termination_message(log_tail)
    reason, exit_code = "", None
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        last = cs.get("lastState") or {}
        terminated = state.get("terminated") or last.get("terminated")
        if terminated:
            report = parse_termination_message(terminated.get("message")) or report
            reason = terminated.get("reason") or reason
            exit_code = terminated.get("exitCode", exit_code)
    if not reason and status.get("phase") == "Failed":
        reason = status.get("reason") or status.get("message") or "Failed"
    return PodReport(
        phase=status.get("phase", "Pending"),
        report=report,
        reason=reason,
        exit_code=exit_code,
        created=_meta(pod).get("creationTimestamp", ""),
    )


@dataclass(frozen=True)
class JobView:
    """A build Job and what its pods reported."""

    name: str
    key: str
    uid: str
    resource_version: str
    owners: tuple[OwnerRef, ...]
    complete: bool
    failed: bool
    failed_reason: str
    failed_message: str
    failed_at: str
    active: int
    failed_pods: int
    pods: tuple[PodReport, ...] = field(default=())
    arch: str = ""
    """GPU architecture the Job builds for (its label)."""
    started_at: str = ""
    """``status.startTime`` (RFC 3339), '' before the Job controller started it."""
    finished_at: str = ""
    """When it completed (``status.completionTime``) or failed (its ``Failed`` condition), else ''."""

    @property
    def latest_report(self) -> BuildReport | None:
        """The newest report any pod wrote."""
        for pod in sorted(self.pods, key=lambda p: p.created, reverse=True):
            if pod.report is not None:
                return pod.report
        return None

    @property
    def permanent_failure(self) -> bool:
        """The build failed for a reason the same inputs meet again (the pod failure policy's verdict)."""
        return self.failed and self.failed_reason == "PodFailurePolicy"

    @property
    def last_failure(self) -> str:
        """Why the newest failed pod failed, or ''."""
        for pod in sorted(self.pods, key=lambda p: p.created, reverse=True):
            if pod.phase == "Failed":
                detail = pod.report.message if pod.report and pod.report.message else pod.reason
                code = f" (exit code {pod.exit_code})" if pod.exit_code is not None else ""
                return f"{detail or 'pod failed'}{code}"
        return ""


def owner_refs(obj: Obj) -> tuple[OwnerRef, ...]:
    return tuple(
        OwnerRef(uid=o["uid"], name=o["name"], kind=o["kind"], api_version=o["apiVersion"])
        for o in _meta(obj).get("ownerReferences") or []
    )


def parse_job(job: Obj, pods: Sequence[Obj] = (), logs: Mapping[str, str] | None = None) -> JobView:
    """A build Job with its pods (those labelled with the Job's name) and running pods' log tails by name."""
    meta = _meta(job)
    status = job.get("status") or {}
    failed = _condition(job, "Failed")
    complete = _condition(job, "Complete") is not None
    labels = meta.get("labels") or {}
    if complete:
        finished_at = status.get("completionTime") or ""
    else:
        finished_at = (failed or {}).get("lastTransitionTime", "")
    return JobView(
        name=meta["name"],
        key=labels.get(names.LABEL_ENGINE_KEY, ""),
        uid=meta.get("uid", ""),
        resource_version=meta.get("resourceVersion", ""),
        owners=owner_refs(job),
        complete=complete,
        failed=failed is not None,
        failed_reason=(failed or {}).get("reason", ""),
        failed_message=(failed or {}).get("message", ""),
        failed_at=(failed or {}).get("lastTransitionTime", ""),
        active=int(status.get("active") or 0),
        failed_pods=int(status.get("failed") or 0),
        pods=tuple(parse_pod(p, (logs or {}).get(_meta(p).get("name", ""))) for p in pods),
        arch=labels.get(names.LABEL_ARCH, ""),
        started_at=status.get("startTime") or "",
        finished_at=finished_at,
    )


@dataclass(frozen=True)
class DeploymentView:
    """A Deployment's identity, ownership of replicas, and rollout state."""

    name: str
    engine_key: str
    desired_hash: str
    spec_replicas: int
    ready_replicas: int
    available_replicas: int
    updated_replicas: int
    status_replicas: int
    generation: int
    observed_generation: int
    operator_owns_replicas: bool

    @property
    def rolled_out(self) -> bool:
        """The controller has seen the latest spec and every replica runs it."""
        return (
            self.observed_generation >= self.generation
            and self.updated_replicas >= self.spec_replicas
            and self.status_replicas <= self.spec_replicas
        )


def _owns_replicas(obj: Obj, manager: str) -> bool:
    for entry in _meta(obj).get("managedFields") or []:
        if entry.get("manager") != manager:
            continue
        spec_fields = ((entry.get("fieldsV1") or {}).get("f:spec")) or {}
        if "f:replicas" in spec_fields:
            return True
    return False


def parse_deployment(dep: Obj, manager: str) -> DeploymentView:
    meta = _meta(dep)
    status = dep.get("status") or {}
    return DeploymentView(
        name=meta["name"],
        engine_key=(meta.get("labels") or {}).get(names.LABEL_ENGINE_KEY, ""),
        desired_hash=(meta.get("annotations") or {}).get(names.ANNOTATION_HASH, ""),
        spec_replicas=int((dep.get("spec") or {}).get("replicas", 1)),
        ready_replicas=int(status.get("readyReplicas") or 0),
        available_replicas=int(status.get("availableReplicas") or 0),
        updated_replicas=int(status.get("updatedReplicas") or 0),
        status_replicas=int(status.get("replicas") or 0),
        generation=int(meta.get("generation") or 0),
        observed_generation=int(status.get("observedGeneration") or 0),
        operator_owns_replicas=_owns_replicas(dep, manager),
    )


def fingerprint(kind: str, obj: Obj, manager: str) -> str:
    """What a reconcile reads of a child Deployment or Job, as a comparable string.

    Why: a watch event of a child is worth a reconcile only when something the
    reconcile reads changed since it last read it. Condition timestamps, the
    resource version, and the owner references the operator adds itself are
    left out, so the operator's own writes and the controllers' bookkeeping
    trigger nothing.
    """
    if kind == "Deployment":
        return repr(parse_deployment(obj, manager))
    if kind == "Job":
        view = parse_job(obj)
        return repr((view.name, view.key, view.complete, view.failed, view.failed_reason, view.active))
    raise ValueError(f"no fingerprint for kind {kind!r}: only Deployments and Jobs trigger reconciles")

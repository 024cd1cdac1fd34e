"""The level-based reconcile of one SeedCoderFineTune: observe, step, create, publish, report.

Why this shape (the SeedCoderDeployment reconcile's): every trigger (the
resource changed, one of its Jobs changed, the resync) runs the same function,
which reads the run's Jobs fresh, asks the pure run step
(``seedcoder.finetune.run.step``) what comes next, creates the Jobs it names
(an existing one is success: names are deterministic), publishes a passing
adapter (``publish``), and writes the status in one server-side apply only when
it differs. A settled resource costs two label-selected lists and one get.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from seedcoder.api.finetune import KIND, SeedCoderFineTuneSpec, SeedCoderFineTuneStatus
from seedcoder.api.resource import API_VERSION, ObjectMeta, SeedCoderDeployment
from seedcoder.finetune import plan
from seedcoder.finetune.rollback import FeedbackCounts
from seedcoder.finetune.run import Observed, step
from seedcoder.operator.finetune import events, live_feedback
from seedcoder.operator.finetune.observe import observe_run
from seedcoder.operator.finetune.publish import publication, served_adapters
from seedcoder.operator.finetune.settings import FineTuneSettings
from seedcoder.operator.kube import Kube
from seedcoder.operator.objects import gateway_objects, image_choice, names
from seedcoder.operator.settings import FIELD_MANAGER, OperatorSettings

log = logging.getLogger(__name__)


@dataclass
class FineTuneDeps:
    """What a fine-tuning reconcile needs besides the resource."""

    kube: Kube
    settings: OperatorSettings
    finetune: FineTuneSettings = field(default_factory=FineTuneSettings)
    instance: str = "seedcoder-operator"
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    feedback: FeedbackReader | None = None
    """Reads the deployment's per-adapter feedback counts (None: no live rollback)."""
    judged_at: dict[str, datetime] = field(default_factory=dict)
    """When each resource's served adapter was last judged, by uid (at most once per interval)."""


FeedbackReader = Callable[
    [Kube, SeedCoderDeployment, OperatorSettings], Awaitable[Mapping[str, FeedbackCounts] | None]
]


@dataclass
class Outcome:
    """What one reconcile did, for handlers and tests."""

    invalid: str | None = None
    waiting_for: str | None = None
    """A dependency that is missing (the deployment, its feedback claim): nothing was started."""
    created: list[str] = field(default_factory=list)
    wrote_status: bool = False


def with_images(job: plan.Manifest, images: image_choice.ImageChoice) -> plan.Manifest:
    """The Job with the resource's pull policy and pull secrets (as every pod the operator creates)."""
    pod = job["spec"]["template"]["spec"]
    for container in pod["containers"]:
        container["imagePullPolicy"] = images.pull_policy
    pod.update(images.pod_fields())
    return job


def _context(
    meta: ObjectMeta, spec: SeedCoderFineTuneSpec, run: str, scd: SeedCoderDeployment, deps: FineTuneDeps
) -> tuple[plan.RunContext, image_choice.ImageChoice] | str:
    """The run context, or what is missing for one."""
    feedback = scd.spec.gateway.feedback
    if feedback is None:
        return f"SeedCoderDeployment {scd.metadata.name} keeps no durable feedback (spec.gateway.feedback)"
    images = image_choice.choose(deps.settings, scd.spec.images)
    ctx = plan.RunContext(
        namespace=meta.namespace,
        name=meta.name,
        uid=meta.uid,
        run=run,
        spec=spec,
        image=images.seedcoder,
        training_image=deps.finetune.training_image(deps.settings.image_registry),
        served_model=scd.spec.model.name,
        feedback_claim=feedback.pvc.claim_name,
        gateway_url=gateway_objects.endpoint(scd.metadata.name, meta.namespace, deps.settings.cluster_domain),
    )
    return ctx, images


async def _write_status(
    deps: FineTuneDeps, meta: ObjectMeta, old: SeedCoderFineTuneStatus, new: SeedCoderFineTuneStatus
) -> bool:
    if new == old:
        return False
    body = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": meta.name, "namespace": meta.namespace},
        "status": new.wire(),
    }
    await deps.kube.apply(body, FIELD_MANAGER, subresource="status")
    return True


def _status(body: Mapping[str, Any]) -> SeedCoderFineTuneStatus:
    """The live status; one this version cannot read counts as empty (a new run starts)."""
    try:
        return SeedCoderFineTuneStatus.model_validate(dict(body.get("status") or {}))
    except ValidationError:
        return SeedCoderFineTuneStatus()


async def _judge_live(
    deps: FineTuneDeps,
    meta: ObjectMeta,
    spec: SeedCoderFineTuneSpec,
    scd: SeedCoderDeployment,
    status: SeedCoderFineTuneStatus,
    now: datetime,
) -> SeedCoderFineTuneStatus:
    """``status`` with a rollback recorded if the served adapter's live acceptance trails the base's.

    Judged at most once per ``finetune_rollback_interval_seconds`` per resource (the
    counts move slowly; the read is one query, or one scrape per gateway pod).
    """
    if deps.feedback is None or not live_feedback.judged(status):
        return status
    last = deps.judged_at.get(meta.uid)
    if last is not None and now - last < timedelta(seconds=deps.finetune.finetune_rollback_interval_seconds):
        return status
    deps.judged_at[meta.uid] = now
    counts = await deps.feedback(deps.kube, scd, deps.settings)
    if counts is None:
        return status
    judged = live_feedback.judge(
        spec, status, counts, now, min_events=deps.finetune.finetune_rollback_min_events
    )
    if judged.rollback is not None and judged.rollback != status.rollback:
        log.warning("SeedCoderFineTune %s/%s: %s", meta.namespace, meta.name, judged.rollback.message)
    return judged


async def reconcile(body: Mapping[str, Any], deps: FineTuneDeps) -> Outcome:
    """Move one SeedCoderFineTune's run on by what its Jobs show, and report it in its status."""
    meta = ObjectMeta.model_validate(dict(body["metadata"]))
    if meta.deletion_timestamp:
        return Outcome()  # the garbage collector removes its Jobs
    try:
        spec = SeedCoderFineTuneSpec.model_validate(dict(body["spec"]))
    except ValidationError as exc:  # the CRD's schema refuses what the models refuse: an old object
        return Outcome(invalid=str(exc).splitlines()[0])
    status = _status(body)
    scd_body = await deps.kube.get("SeedCoderDeployment", meta.namespace, spec.deployment_ref.name)
    if scd_body is None:
        return Outcome(waiting_for=f"SeedCoderDeployment {spec.deployment_ref.name} does not exist")
    scd = SeedCoderDeployment.parse(scd_body)
    found = _context(meta, spec, status.run or "r1", scd, deps)
    if isinstance(found, str):
        return Outcome(waiting_for=found)
    ctx, images = found
    now = deps.clock()
    grace = timedelta(seconds=deps.finetune.finetune_report_grace_seconds)
    jobs = (
        await observe_run(deps.kube, meta.namespace, meta.name, meta.uid, status.run, now, grace)
        if status.run
        else {}
    )

    async def served(st: SeedCoderFineTuneStatus) -> frozenset[str]:
        """What the gateway serves of this resource: read only while a Publish stage waits for it."""
        if not st.stages or st.stages[-1].name != "Publish" or st.stages[-1].state != "Running":
            return frozenset()
        cm = await deps.kube.get("ConfigMap", meta.namespace, names.gateway(spec.deployment_ref.name))
        return served_adapters(meta.name, cm)

    decided = step(ctx, status, Observed(jobs, await served(status)), now)
    new = decided.status
    if decided.publish is not None and new.run is not None:
        record = publication(dataclasses.replace(ctx, run=new.run), new, now)
        if new.adapter is None or new.adapter.version != record.version:  # once: keep its first time
            new = new.model_copy(update={"adapter": record, "rollback": None})
        new = step(ctx, new, Observed(jobs, await served(new)), now).status
    new = await _judge_live(deps, meta, spec, scd, new, now)
    new = new.model_copy(update={"observed_generation": meta.generation})
    created = []
    for job in decided.create:
        if await deps.kube.create(with_images(job, images), FIELD_MANAGER) is not None:
            created.append(job["metadata"]["name"])
            log.info(
                "Created Job %s/%s for SeedCoderFineTune %s.",
                meta.namespace,
                job["metadata"]["name"],
                meta.name,
            )
    wrote = await _write_status(deps, meta, status, new)
    await events.post(
        deps.kube, meta.namespace, meta.name, meta.uid, events.news(status, new), now, deps.instance
    )
    return Outcome(created=created, wrote_status=wrote)

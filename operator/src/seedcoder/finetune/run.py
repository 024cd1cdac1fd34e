"""One level-based step of a fine-tuning run: from the status and what is observed, what to do next.

The reconcile of a SeedCoderFineTune would call :func:`step` with the resource's
status, the states (and termination messages) of the current run's Jobs and the
adapters the gateway serves; it returns the Jobs to create, the adapter to
publish (if any) and the new status. Pure: it never talks to the cluster, so
every transition is tested without one, and calling it again with the same
observations gives the same answer (a lost create is simply planned again).

A run goes Dataset -> Training -> Evaluation -> Gate -> Publish. It starts when
the trigger is due (first run at once; then on the cron schedule, or at most
hourly without one) and is not suspended. Training is skipped, ending the run,
while the snapshot has fewer than ``data.minSamples`` training samples (first
run) or fewer than ``trigger.minNewSamples`` more than the last run that
trained. A failed Job fails its stage and ends the run; the next one starts
when the trigger is due again.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from seedcoder.api.finetune import SeedCoderFineTuneStatus, StageName, StageState, StageStatus
from seedcoder.finetune import plan
from seedcoder.finetune.cron import Cron
from seedcoder.finetune.gate import SummaryError, decide, scores_from_summary

MIN_INTERVAL = timedelta(hours=1)
"""Without a schedule, how often a new snapshot is built to look for enough new samples."""


@dataclass(frozen=True, slots=True)
class JobState:
    phase: Literal["Running", "Succeeded", "Failed"]
    message: str = ""  # the container's termination message


@dataclass(frozen=True, slots=True)
class Observed:
    jobs: Mapping[str, JobState] = field(default_factory=dict)  # by stage: dataset, train, evaluate
    served_adapters: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Step:
    create: list[plan.Manifest]
    publish: str | None  # the candidate model name to serve as the adapter
    status: SeedCoderFineTuneStatus


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse(t: str) -> datetime:
    return datetime.fromisoformat(t.replace("Z", "+00:00"))


def due(ctx: plan.RunContext, status: SeedCoderFineTuneStatus, now: datetime) -> bool:
    trigger = ctx.spec.trigger
    if trigger.suspend:
        return False
    if status.run_started is None:
        return True
    last = _parse(status.run_started)
    if trigger.schedule is None:
        return now - last >= MIN_INTERVAL
    return Cron.parse(trigger.schedule).fired_between(last, now)


def _next_run(run: str | None) -> str:
    return f"r{int(run[1:]) + 1}" if run and run[1:].isdigit() else "r1"


def _stage(
    name: StageName, state: StageState, now: datetime, job: str | None = None, message: str | None = None
) -> StageStatus:
    done = state in {"Succeeded", "Failed", "Skipped"}
    return StageStatus(
        name=name,
        state=state,
        job=job,
        message=message,
        start_time=_iso(now),
        completion_time=_iso(now) if done else None,
    )


def _finish(stage: StageStatus, state: StageState, now: datetime, message: str | None = None) -> StageStatus:
    return stage.model_copy(
        update={"state": state, "completion_time": _iso(now), "message": message or stage.message}
    )


def step(ctx: plan.RunContext, status: SeedCoderFineTuneStatus, observed: Observed, now: datetime) -> Step:
    """What to do now for ``ctx``'s resource (``ctx.run`` is replaced by the run in progress)."""
    active = status.run is not None and any(s.state in {"Pending", "Running"} for s in status.stages)
    if not active:
        if not due(ctx, status, now):
            return Step([], None, status)
        run_ctx = dataclasses.replace(ctx, run=_next_run(status.run))
        job = plan.dataset_job(run_ctx)
        new = status.model_copy(
            update={
                "run": run_ctx.run,
                "run_started": _iso(now),
                "dataset_version": None,
                "dataset_samples": None,
                "stages": [_stage("Dataset", "Running", now, job["metadata"]["name"])],
                "scores": None,
                "decision": None,
            }
        )
        return Step([job], None, new)
    assert status.run is not None
    run_ctx = dataclasses.replace(ctx, run=status.run)
    stages = list(status.stages)
    current = stages[-1]
    key = {"Dataset": "dataset", "Training": "train", "Evaluation": "evaluate"}.get(current.name)
    observed_job = observed.jobs.get(key) if key else None

    def update(**changes: object) -> SeedCoderFineTuneStatus:
        return status.model_copy(update={"stages": stages, **changes})

    if current.name == "Publish":
        adapter = run_ctx.candidate_model.split(":", 1)[1]
        if adapter in observed.served_adapters:
            stages[-1] = _finish(current, "Succeeded", now, f"Serving {run_ctx.candidate_model}.")
            return Step([], None, update(published_adapter=adapter))
        return Step([], run_ctx.candidate_model, status)
    if key is None:  # a Gate stage left running cannot happen: it is decided in one step
        stages[-1] = _finish(current, "Failed", now, "Unexpected stage state.")
        return Step([], None, update())
    if observed_job is None:  # created before but not seen (lost create, or deleted): plan it again
        version = status.dataset_version or ""
        builders = {
            "dataset": lambda: plan.dataset_job(run_ctx),
            "train": lambda: plan.training_job(run_ctx, version),
            "evaluate": lambda: plan.evaluation_job(run_ctx, version),
        }
        return Step([builders[key]()], None, status)
    if observed_job.phase == "Running":
        return Step([], None, status)
    if observed_job.phase == "Failed":
        stages[-1] = _finish(current, "Failed", now, observed_job.message[:1024] or "The Job failed.")
        return Step([], None, update())

    if current.name == "Dataset":
        try:
            manifest = json.loads(observed_job.message)
            version, train = str(manifest["version"]), int(manifest["counts"]["train"])
        except (ValueError, KeyError, TypeError):
            stages[-1] = _finish(current, "Failed", now, "The data set Job reported no manifest.")
            return Step([], None, update())
        needed = (
            ctx.spec.data.min_samples
            if status.trained_samples is None
            else status.trained_samples + ctx.spec.trigger.min_new_samples
        )
        stages[-1] = _finish(current, "Succeeded", now, f"Snapshot {version}: {train} training samples.")
        changes = {"dataset_version": version, "dataset_samples": train}
        if train < needed:
            stages.append(
                _stage("Training", "Skipped", now, message=f"{train} training samples, {needed} needed.")
            )
            return Step([], None, update(**changes))
        job = plan.training_job(run_ctx, version)
        stages.append(_stage("Training", "Running", now, job["metadata"]["name"]))
        return Step([job], None, update(**changes))

    if current.name == "Training":
        stages[-1] = _finish(current, "Succeeded", now)
        job = plan.evaluation_job(run_ctx, status.dataset_version or "")
        stages.append(_stage("Evaluation", "Running", now, job["metadata"]["name"]))
        return Step([job], None, update(trained_samples=status.dataset_samples))

    # Evaluation succeeded: judge it
    try:
        scores = scores_from_summary(observed_job.message, run_ctx.served_model, run_ctx.candidate_model)
    except SummaryError as exc:
        stages[-1] = _finish(current, "Failed", now, str(exc))
        return Step([], None, update())
    decision = decide(scores, ctx.spec.gate)
    stages[-1] = _finish(current, "Succeeded", now)
    stages.append(
        _stage("Gate", "Succeeded" if decision.publish else "Failed", now, message=decision.message)
    )
    if not decision.publish:
        return Step([], None, update(scores=scores, decision=decision))
    stages.append(_stage("Publish", "Running", now))
    return Step([], run_ctx.candidate_model, update(scores=scores, decision=decision))

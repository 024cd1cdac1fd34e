"""The fine-tuning reconcile's pure parts: Jobs and pods -> JobState, the next step, the published
record, the Events, on the objects the API server returns (no cluster)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from seedcoder.api.finetune import SeedCoderFineTuneStatus
from seedcoder.api.gateway_config import GatewayConfig, PoolEndpoint
from seedcoder.finetune import plan
from seedcoder.finetune.run import JobState, Observed, step
from seedcoder.operator.finetune import events, publish
from seedcoder.operator.finetune.observe import job_states, run_selector
from seedcoder.operator.finetune.reconcile import with_images
from seedcoder.operator.finetune.settings import FineTuneSettings
from seedcoder.operator.objects import finetune_adapters, gateway_objects
from seedcoder.operator.objects.image_choice import ImageChoice

from tests.finetune.test_plan import _ctx
from tests.finetune.test_run_steps import _manifest, _summary

T0 = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
GRACE = timedelta(minutes=2)
UID = "11111111-2222-3333-4444-555555555555"


def _job(manifest: plan.Manifest, condition: str | None = None, at: datetime = T0) -> dict[str, Any]:
    """The Job as the API server returns it once the Job controller set ``condition``."""
    job: dict[str, Any] = json.loads(json.dumps(manifest))
    if condition:
        cond = {"type": condition, "status": "True", "lastTransitionTime": at.isoformat()}
        if condition == "Failed":
            cond.update(reason="BackoffLimitExceeded", message="Job has reached the specified backoff limit")
        job["status"] = {"conditions": [cond]}
        if condition == "Complete":
            job["status"]["completionTime"] = at.isoformat().replace("+00:00", "Z")
    return job


def _pod(job: dict[str, Any], message: str | None) -> dict[str, Any]:
    labels = {
        **job["spec"]["template"]["metadata"]["labels"],
        "batch.kubernetes.io/job-name": job["metadata"]["name"],
    }
    terminated = {"exitCode": 0, "reason": "Completed", "finishedAt": "2026-12-06T02:00:00Z"}
    if message is not None:
        terminated["message"] = message
    status = {"containerStatuses": [{"name": "c", "state": {"terminated": terminated}}]}
    return {"metadata": {"name": job["metadata"]["name"] + "-x1", "labels": labels}, "status": status}


def test_job_states_wait_briefly_for_a_report_and_ignore_jobs_of_others() -> None:
    ctx = _ctx(run="r1")
    dataset = plan.dataset_job(ctx)
    done = _job(dataset, "Complete")
    # finished, but the pod shows no termination message yet: still running, within the grace
    assert job_states([done], [_pod(done, None)], UID, T0 + timedelta(seconds=30), GRACE) == {
        "dataset": JobState("Running")
    }
    # after the grace: succeeded without a report (the step fails the stage for it)
    assert job_states([done], [_pod(done, None)], UID, T0 + GRACE, GRACE) == {
        "dataset": JobState("Succeeded", "")
    }
    assert job_states([done], [_pod(done, _manifest(600))], UID, T0, GRACE) == {
        "dataset": JobState("Succeeded", _manifest(600))
    }
    # training reports nothing the step needs: done is done
    train = _job(plan.training_job(ctx, "v1"), "Complete")
    assert job_states([train], [], UID, T0, GRACE) == {"train": JobState("Succeeded", "")}
    failed = job_states([_job(dataset, "Failed")], [], UID, T0, GRACE)["dataset"]
    assert failed.phase == "Failed"
    assert "BackoffLimitExceeded" in failed.message
    assert ctx.name in failed.message
    stranger = _job(dataset, "Complete")
    stranger["metadata"]["ownerReferences"][0]["uid"] = "someone-else"
    assert job_states([stranger], [], UID, T0, GRACE) == {}
    assert job_states([_job(dataset)], [], UID, T0, GRACE) == {"dataset": JobState("Running")}
    assert run_selector("team-a-tune", "r1").endswith(",seedcoder.dev/finetune-run=r1")


def test_observed_jobs_drive_a_run_to_a_published_record_and_its_events() -> None:
    ctx = _ctx(run="r1")
    status = SeedCoderFineTuneStatus()
    s = step(ctx, status, Observed(), T0)
    assert [j["metadata"]["name"] for j in s.create] == ["team-a-tune-dataset-r1"]
    assert events.news(status, s.status) == []  # a snapshot run is routine
    dataset = _job(s.create[0], "Complete")
    jobs = job_states([dataset], [_pod(dataset, _manifest(600))], UID, T0, GRACE)
    before, s = s.status, step(ctx, s.status, Observed(jobs), T0)
    assert [n.reason for n in events.news(before, s.status)] == ["TrainingStarted"]
    train = _job(s.create[0], "Complete")
    s = step(ctx, s.status, Observed(job_states([train], [], UID, T0, GRACE)), T0)
    evaluate = _job(s.create[0], "Complete")
    summary = _summary(0.40, 0.47, "seed-coder-8b-base:team-a-r1")
    jobs = job_states([evaluate], [_pod(evaluate, summary)], UID, T0, GRACE)
    before, s = s.status, step(ctx, s.status, Observed(jobs), T0)
    assert s.publish == "seed-coder-8b-base:team-a-r1"
    record = publish.publication(ctx, s.status, T0)
    assert (record.name, record.version, record.model) == ("team-a", "r1", "seed-coder-8b-base:team-a")
    assert (record.claim_name, record.path) == ("finetune-workspace", "adapters/team-a-tune/r1")
    assert record.scores == s.status.scores
    assert record.published_time == "2026-12-06T02:00:00Z"
    assert record.teams == ["team-a"]
    assert record.dataset_version == "v-600"
    published = s.status.model_copy(update={"adapter": record})
    # the Publish stage waits until the deployment's gateway configuration lists the adapter
    waiting = step(ctx, published, Observed(jobs, publish.served_adapters(ctx.name, None)), T0).status
    assert waiting.stages[-1].state == "Running"
    cm = _gateway_config_map(ctx, published)
    assert publish.served_adapters(ctx.name, cm) == {"team-a-r1"}
    assert publish.served_adapters("another-tune", cm) == frozenset()
    done = step(ctx, published, Observed(jobs, publish.served_adapters(ctx.name, cm)), T0).status
    assert [(st.name, st.state) for st in done.stages][-2:] == [
        ("Gate", "Succeeded"),
        ("Publish", "Succeeded"),
    ]
    assert done.published_adapter == "team-a-r1"
    assert [n.reason for n in events.news(before, done)] == ["AdapterPublished"]
    # settled: the same observations give the same status (the reconcile writes nothing)
    assert (
        step(
            ctx, done, Observed(jobs, publish.served_adapters(ctx.name, cm)), T0 + timedelta(minutes=5)
        ).status
        == done
    )


def _gateway_config_map(ctx: plan.RunContext, status: SeedCoderFineTuneStatus) -> dict[str, Any]:
    """The deployment's gateway ConfigMap as its reconcile renders it with this fine-tune's adapters."""
    body = {
        "metadata": {"name": ctx.name, "namespace": ctx.namespace},
        "spec": ctx.spec.wire(),
        "status": status.wire(),
    }
    adapters = finetune_adapters.deployment_adapters(ctx.spec.deployment_ref.name, [body]).adapters
    pools = [PoolEndpoint(name="h100", grpc_url="x:8001", gpu="h100", max_prompt_tokens=4096)]
    config = GatewayConfig(model_name=ctx.served_model, pools=pools, adapters=adapters)
    return gateway_objects.config_map(instance="demo", namespace=ctx.namespace, config=config)


def test_a_rejected_adapter_is_not_published_and_is_news() -> None:
    ctx = _ctx(run="r1")
    s = step(ctx, SeedCoderFineTuneStatus(), Observed(), T0)
    s = step(ctx, s.status, Observed({"dataset": JobState("Succeeded", _manifest(600))}), T0)
    s = step(ctx, s.status, Observed({"train": JobState("Succeeded")}), T0)
    worse = _summary(0.40, 0.41, "seed-coder-8b-base:team-a-r1")
    before, s = s.status, step(ctx, s.status, Observed({"evaluate": JobState("Succeeded", worse)}), T0)
    assert s.publish is None
    assert s.status.adapter is None
    assert s.status.decision is not None
    assert s.status.decision.reason == "HeldOutNotImproved"
    (item,) = events.news(before, s.status)
    assert item.reason == "AdapterRejected"
    assert item.warning
    assert "needed gain 0.02" in item.note
    failed = step(
        ctx, before, Observed({"evaluate": JobState("Failed", "Job x failed (DeadlineExceeded)")}), T0
    )
    assert [(n.reason, n.warning) for n in events.news(before, failed.status)] == [("EvaluationFailed", True)]


def test_jobs_get_the_resources_pull_policy_and_secrets() -> None:
    images = ImageChoice("a", "b", "c", pull_policy="Always", pull_secrets=("mirror",))
    job = with_images(plan.dataset_job(_ctx(run="r1")), images)
    pod = job["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "mirror"}]
    assert [c["imagePullPolicy"] for c in pod["containers"]] == ["Always"]


def test_settings_come_from_the_environment_and_bad_references_are_named() -> None:
    env = {
        "SEEDCODER_FINETUNE_TRAINING_IMAGE": "registry.example/seedcoder-train:1.0",
        "SEEDCODER_FINETUNE_REPORT_GRACE_SECONDS": "30",
        "SEEDCODER_RESYNC_SECONDS": "5",  # the operator's own: ignored here
    }
    settings = FineTuneSettings.from_env(env)
    assert settings.finetune_training_image == "registry.example/seedcoder-train:1.0"
    assert settings.finetune_report_grace_seconds == 30
    assert FineTuneSettings.from_env({}).finetune_training_image is None
    with pytest.raises(ValidationError, match="finetune_report_grace_seconds"):
        FineTuneSettings.from_env({"SEEDCODER_FINETUNE_REPORT_GRACE_SECONDS": "0"})
    with pytest.raises(ValidationError, match="finetune_training_image"):
        FineTuneSettings.from_env({"SEEDCODER_FINETUNE_TRAINING_IMAGE": "not a reference"})

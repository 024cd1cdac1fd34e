"""A fine-tuning run, step by step, from observations to Jobs, publish actions and status."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from seedcoder.api.finetune import SeedCoderFineTuneStatus
from seedcoder.finetune.cron import Cron
from seedcoder.finetune.run import JobState, Observed, Step, step

from tests.finetune.test_plan import SPEC, _ctx

T0 = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)  # a Sunday


def _summary(base: float, adapter: float, candidate: str, tasks: int = 40) -> str:
    def sets(es: float) -> dict[str, Any]:
        return {
            "heldout": {"tasks": tasks, "exact_match": 0.1, "edit_similarity": es},
            "public": {"tasks": 48, "exact_match": 0.2, "edit_similarity": 0.5},
        }

    runs = [{"model": "seed-coder-8b-base", "sets": sets(base)}, {"model": candidate, "sets": sets(adapter)}]
    return json.dumps({"runs": runs})


def _manifest(train: int) -> str:
    return json.dumps({"version": f"v-{train}", "counts": {"train": train, "heldout": 50}})


def _names(s: Step) -> list[str]:
    return [j["metadata"]["name"] for j in s.create]


def _states(status: SeedCoderFineTuneStatus) -> list[tuple[str, str]]:
    return [(s.name, s.state) for s in status.stages]


def test_a_run_from_trigger_to_served_adapter_then_a_run_without_enough_new_samples() -> None:
    ctx = _ctx({**SPEC, "trigger": {"schedule": "0 3 * * 0", "minNewSamples": 200}})
    s = step(ctx, SeedCoderFineTuneStatus(), Observed(), T0)
    assert _names(s) == ["team-a-tune-dataset-r1"]
    assert s.status.run == "r1"
    # nothing observed yet (the create was lost): planned again, nothing else changes
    assert _names(step(ctx, s.status, Observed(), T0)) == ["team-a-tune-dataset-r1"]
    assert step(ctx, s.status, Observed({"dataset": JobState("Running")}), T0).create == []
    s = step(ctx, s.status, Observed({"dataset": JobState("Succeeded", _manifest(600))}), T0)
    assert _names(s) == ["team-a-tune-train-r1"]
    assert "--train" in s.create[0]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert s.status.dataset_version == "v-600"
    s = step(ctx, s.status, Observed({"train": JobState("Succeeded")}), T0)
    assert _names(s) == ["team-a-tune-evaluate-r1"]
    assert s.status.trained_samples == 600
    summary = _summary(0.40, 0.46, "seed-coder-8b-base:team-a-r1")
    s = step(ctx, s.status, Observed({"evaluate": JobState("Succeeded", summary)}), T0)
    assert s.publish == "seed-coder-8b-base:team-a-r1"
    assert s.status.decision is not None
    assert s.status.decision.reason == "HeldOutImproved"
    assert s.status.scores is not None
    assert s.status.scores.adapter_held_out is not None
    assert s.status.scores.adapter_held_out.edit_similarity == 0.46
    # publishing is asked again until the gateway serves the adapter
    assert step(ctx, s.status, Observed(), T0).publish == "seed-coder-8b-base:team-a-r1"
    s = step(ctx, s.status, Observed(served_adapters=frozenset({"team-a-r1"})), T0)
    assert s.status.published_adapter == "team-a-r1"
    stages = ["Dataset", "Training", "Evaluation", "Gate", "Publish"]
    assert _states(s.status) == [(name, "Succeeded") for name in stages]
    # the run is over: nothing until the schedule fires (Sunday 03:00 UTC)
    assert step(ctx, s.status, Observed(), T0 + timedelta(minutes=59)).create == []
    s = step(ctx, s.status, Observed(), T0 + timedelta(hours=1))
    assert _names(s) == ["team-a-tune-dataset-r2"]
    s = step(
        ctx, s.status, Observed({"dataset": JobState("Succeeded", _manifest(750))}), T0 + timedelta(hours=1)
    )
    assert s.create == []
    assert _states(s.status)[-1] == ("Training", "Skipped")
    assert s.status.stages[-1].message == "750 training samples, 800 needed."
    assert s.status.published_adapter == "team-a-r1"  # the served adapter stays


def test_the_gate_refuses_and_failures_end_the_run() -> None:
    ctx = _ctx()
    s = step(ctx, SeedCoderFineTuneStatus(), Observed(), T0)
    failed = step(ctx, s.status, Observed({"dataset": JobState("Failed", "feedback folder unreadable")}), T0)
    assert _states(failed.status) == [("Dataset", "Failed")]
    assert failed.status.stages[0].message == "feedback folder unreadable"
    assert (
        step(ctx, failed.status, Observed(), T0 + timedelta(minutes=30)).create == []
    )  # hourly without schedule
    assert _names(step(ctx, failed.status, Observed(), T0 + timedelta(hours=1))) == ["team-a-tune-dataset-r2"]

    s = step(ctx, s.status, Observed({"dataset": JobState("Succeeded", _manifest(600))}), T0)
    s = step(ctx, s.status, Observed({"train": JobState("Succeeded")}), T0)
    worse = _summary(0.40, 0.405, "seed-coder-8b-base:team-a-r1")
    judged = step(ctx, s.status, Observed({"evaluate": JobState("Succeeded", worse)}), T0)
    assert judged.publish is None
    assert _states(judged.status)[-1] == ("Gate", "Failed")
    assert judged.status.decision is not None
    assert judged.status.decision.reason == "HeldOutNotImproved"
    garbled = step(ctx, s.status, Observed({"evaluate": JobState("Succeeded", "OOMKilled")}), T0)
    assert _states(garbled.status)[-1] == ("Evaluation", "Failed")


def test_first_run_waits_for_min_samples_and_suspend_stops_new_runs() -> None:
    ctx = _ctx()
    s = step(ctx, SeedCoderFineTuneStatus(), Observed(), T0)
    s = step(ctx, s.status, Observed({"dataset": JobState("Succeeded", _manifest(499))}), T0)
    assert s.status.stages[-1].message == "499 training samples, 500 needed."
    suspended = _ctx({**SPEC, "trigger": {"suspend": True}})
    assert step(suspended, SeedCoderFineTuneStatus(), Observed(), T0).create == []


def test_cron_schedules() -> None:
    weekly = Cron.parse("0 3 * * 0")
    assert weekly.fired_between(T0, T0 + timedelta(hours=1))
    assert not weekly.fired_between(T0 + timedelta(hours=1), T0 + timedelta(days=6))
    every15 = Cron.parse("*/15 8-9 1,15 * 1-5")  # day of month OR weekday, as in cron
    assert every15.matches(datetime(2026, 12, 1, 8, 45, tzinfo=UTC))  # a Tuesday
    assert every15.matches(datetime(2026, 12, 15, 9, 0, tzinfo=UTC))
    assert not every15.matches(datetime(2026, 12, 6, 8, 0, tzinfo=UTC))  # Sunday the 6th
    assert Cron.parse("0 0 * * 7").weekdays == frozenset({0})
    with pytest.raises(ValueError, match="five fields"):
        Cron.parse("0 3 * *")
    with pytest.raises(ValueError, match="hour '25' is outside 0-23"):
        Cron.parse("0 25 * * *")
    with pytest.raises(ValueError, match="not numeric cron"):
        Cron.parse("0 3 * * sun")

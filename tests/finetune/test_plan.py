"""The SeedCoderFineTune API, its generated CRD, the run's Jobs (golden YAML) and the quality gate."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from seedcoder.api import finetune_crd
from seedcoder.api.finetune import GateSpec, RunScores, SeedCoderFineTuneSpec, SetScores
from seedcoder.finetune import plan
from seedcoder.finetune.gate import SummaryError, decide, decide_engine, scores_from_summary

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
SPEC: dict[str, Any] = {
    "deploymentRef": {"name": "demo"},
    "workspace": {"claimName": "finetune-workspace"},
    "gate": {"apiKeySecretRef": "finetune-eval-key", "minHeldOutTasks": 20},
    "lora": {"rank": 8, "alpha": 16, "steps": 300},
    "training": {
        "gpu": "H100",
        "nodeSelector": {"pool": "training"},
        "tolerations": [{"key": "training", "operator": "Exists", "effect": "NoSchedule"}],
    },
    "publish": {"adapterName": "team-a", "teams": ["team-a"]},
}


def _ctx(spec: dict[str, Any] = SPEC, run: str = "r3") -> plan.RunContext:
    return plan.RunContext(
        namespace="ml",
        name="team-a-tune",
        uid="11111111-2222-3333-4444-555555555555",
        run=run,
        spec=SeedCoderFineTuneSpec.model_validate(spec),
        image="registry.example/seedcoder:1.0",
        training_image="registry.example/seedcoder-train:1.0",
        served_model="seed-coder-8b-base",
        feedback_claim="demo-feedback",
        gateway_url="http://demo-gateway.ml.svc:8000/v1",
    )


def _check(name: str, objects: list[dict[str, Any]]) -> None:
    text = yaml.safe_dump_all(objects, sort_keys=True, width=110)
    path = GOLDEN / name
    if os.environ.get("SEEDCODER_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}: run with SEEDCODER_UPDATE_GOLDEN=1"
    assert text == path.read_text(), (
        f"{name} differs from the golden file (SEEDCODER_UPDATE_GOLDEN=1 to accept)"
    )


def test_spec_defaults_and_refusals() -> None:
    spec = SeedCoderFineTuneSpec.model_validate(
        {
            "deploymentRef": {"name": "demo"},
            "workspace": {"claimName": "ws"},
            "gate": {"apiKeySecretRef": "k"},
        }
    )
    assert spec.lora.target_modules == ["q_proj", "k_proj", "v_proj", "o_proj"]
    assert spec.data.min_samples == 500
    assert spec.gate.held_out_margin == 0.02
    assert spec.training.gpu == "H100"
    bad = [
        ({"lora": {"rank": 0}}, "rank"),
        ({"lora": {"targetModules": ["lm_head"]}}, "targetModules"),
        ({"trigger": {"schedule": "every sunday"}}, "schedule"),
        ({"data": {"heldOutFraction": 0.7}}, "heldOutFraction"),
        ({"gate": {}}, "apiKeySecretRef"),
    ]
    for extra, field in bad:
        with pytest.raises(ValidationError, match=field):
            SeedCoderFineTuneSpec.model_validate({**SPEC, **extra})


def test_the_committed_crd_is_generated_from_the_models(tmp_path: Path) -> None:
    committed = ROOT / finetune_crd.DEFAULT_PATH
    assert committed.read_text() == finetune_crd.render(), (
        f"run python -m seedcoder.api.finetune_crd --write {committed}"
    )
    assert finetune_crd.main(["--check", str(committed)]) == 0
    assert finetune_crd.main(["--check", str(tmp_path / "stale.yaml")]) == 1
    crd = yaml.safe_load(committed.read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    gate = spec["properties"]["gate"]["properties"]
    assert "at least this" in gate["heldOutMargin"]["description"]  # what kubectl explain prints
    assert spec["required"] == ["deploymentRef", "workspace", "gate"]
    assert crd["spec"]["names"]["shortNames"] == ["scft"]
    # OpenAPI v3.0 (what the API server takes) has only boolean exclusive bounds: use ge/le in the models
    assert "exclusiveM" not in committed.read_text()


def test_run_jobs_match_the_golden_files() -> None:
    ctx = _ctx()
    jobs = [plan.dataset_job(ctx), plan.training_job(ctx, "20261202T000000Z-abc"),
            plan.evaluation_job(ctx, "20261202T000000Z-abc")]  # fmt: skip
    _check("finetune-run-jobs.yaml", jobs)


def test_run_jobs_are_owned_restricted_and_least_privileged() -> None:
    ctx = _ctx()
    version = "20261202T000000Z-abc"
    built = (plan.dataset_job(ctx), plan.training_job(ctx, version), plan.evaluation_job(ctx, version))
    jobs = {j["metadata"]["name"]: j for j in built}
    assert set(jobs) == {"team-a-tune-dataset-r3", "team-a-tune-train-r3", "team-a-tune-evaluate-r3"}
    for job in jobs.values():
        assert len(job["metadata"]["name"]) <= 63
        assert job["metadata"]["ownerReferences"][0]["kind"] == "SeedCoderFineTune"
        pod = job["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["command"][0] == "seedcoder"
    dataset = jobs["team-a-tune-dataset-r3"]["spec"]["template"]["spec"]
    assert {"name": "feedback", "mountPath": "/feedback", "readOnly": True} in dataset["containers"][0][
        "volumeMounts"
    ]
    train = jobs["team-a-tune-train-r3"]["spec"]["template"]["spec"]
    assert train["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert train["nodeSelector"] == {"pool": "training"}
    assert [t["key"] for t in train["tolerations"]] == ["nvidia.com/gpu", "training"]
    products = train["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert any("H100" in str(term) for term in products["nodeSelectorTerms"])
    command = train["containers"][0]["command"]
    assert command[command.index("--rank") + 1] == "8"
    assert command[command.index("--train") + 1] == f"/workspace/datasets/team-a-tune/{version}/train.jsonl"
    evaluate = jobs["team-a-tune-evaluate-r3"]["spec"]["template"]["spec"]["containers"][0]
    assert (
        evaluate["command"][evaluate["command"].index("--compare-model") + 1]
        == "seed-coder-8b-base:team-a-r3"
    )
    assert evaluate["env"][0]["valueFrom"] == {
        "secretKeyRef": {"name": "finetune-eval-key", "key": "api-key"}
    }
    assert "--summary" in evaluate["command"]  # the gate reads the termination message


def test_cpu_training_requests_no_gpu_and_run_ids_are_checked() -> None:
    cpu = plan.training_job(_ctx({**SPEC, "training": {"gpu": "CPU", "memory": "8Gi"}}), "v1")
    pod = cpu["spec"]["template"]["spec"]
    assert "nvidia.com/gpu" not in pod["containers"][0]["resources"]["limits"]
    assert "affinity" not in pod
    assert "tolerations" not in pod
    with pytest.raises(ValueError, match="run id"):
        _ctx(run="Run_1")
    with pytest.raises(ValueError, match="run id"):
        _ctx(run="r" * 13)


def _s(es: float, tasks: int = 50) -> SetScores:
    return SetScores(tasks=tasks, exact_match=0.0, edit_similarity=es)


@pytest.mark.parametrize(
    ("held", "public", "publish", "reason"),
    [
        ((0.40, 0.45), (0.60, 0.60), True, "HeldOutImproved"),
        ((0.10, 0.12), (0.60, 0.60), True, "HeldOutImproved"),  # exactly the margin counts
        ((0.40, 0.41), (0.60, 0.62), False, "HeldOutNotImproved"),
        ((0.40, 0.50), (0.60, 0.58), False, "PublicRegressed"),
        ((0.40, 0.50), (0.60, 0.59), True, "HeldOutImproved"),  # a drop within the margin
    ],
)
def test_gate_decisions(
    held: tuple[float, float], public: tuple[float, float], publish: bool, reason: str
) -> None:
    gate = GateSpec(api_key_secret_ref="k", held_out_margin=0.02, public_margin=0.01)
    decision = decide(RunScores(base_held_out=_s(held[0]), adapter_held_out=_s(held[1]),
                                base_public=_s(public[0]), adapter_public=_s(public[1])), gate)  # fmt: skip
    assert (decision.publish, decision.reason) == (publish, reason)
    assert decision.held_out_delta == pytest.approx(held[1] - held[0])
    assert f"{held[0]:.3f} -> {held[1]:.3f}" in decision.message


def test_gate_refuses_to_judge_without_enough_evidence() -> None:
    gate = GateSpec(api_key_secret_ref="k", min_held_out_tasks=20)
    few = RunScores(
        base_held_out=_s(0.1, 5), adapter_held_out=_s(0.9, 5), base_public=_s(0.5), adapter_public=_s(0.5)
    )
    assert decide(few, gate).reason == "TooFewHeldOutTasks"
    assert not decide(few, gate).publish
    assert decide(RunScores(base_held_out=_s(0.1)), gate).reason == "ScoresMissing"


def test_scores_from_the_evaluation_summary() -> None:
    sets = {
        "heldout": {"tasks": 30, "exact_match": 0.2, "edit_similarity": 0.5, "pass_at_1": None},
        "public": {"tasks": 48, "exact_match": 0.1, "edit_similarity": 0.4, "pass_at_1": 0.3},
    }
    text = json.dumps({"runs": [{"model": "base", "sets": sets}, {"model": "base:a-r1", "sets": sets}]})
    scores = scores_from_summary(text, "base", "base:a-r1")
    assert scores.base_public == SetScores(tasks=48, exact_match=0.1, edit_similarity=0.4, pass_at_1=0.3)
    with pytest.raises(SummaryError, match="no run of model 'base:b-r1'"):
        scores_from_summary(text, "base", "base:b-r1")
    with pytest.raises(SummaryError, match="not the expected JSON"):
        scores_from_summary("Error: OOMKilled", "base", "base:a-r1")


def test_the_engine_gate_names_the_set_that_regressed() -> None:
    bf16 = {"public": _s(0.60), "heldout": _s(0.50)}
    assert decide_engine(bf16, {"public": _s(0.595), "heldout": _s(0.49)}, max_drop=0.01).reason == (
        "EngineWithinMargin"
    )
    int4 = decide_engine(bf16, {"public": _s(0.59), "heldout": _s(0.44)}, max_drop=0.01)
    assert not int4.publish
    assert int4.reason == "EngineRegressed"
    assert "heldout edit similarity fell by 0.060" in int4.message
    assert int4.held_out_delta == pytest.approx(-0.06)
    assert decide_engine(bf16, {"public": _s(0.6)}, max_drop=0.01).reason == "ScoresMissing"


def test_the_example_parses_as_the_models_read_it() -> None:
    doc = yaml.safe_load((ROOT / "manifests" / "examples" / "finetune" / "payments-team.yaml").read_text())
    assert doc["kind"] == finetune_crd.crd()["spec"]["names"]["kind"]
    spec = SeedCoderFineTuneSpec.model_validate(doc["spec"])
    assert spec.publish.adapter_name == "payments"
    assert spec.trigger.schedule == "0 3 * * 0"

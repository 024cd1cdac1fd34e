"""Engine keys decide sharing and rollover: same inputs share, any change builds anew."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from seedcoder.api.resource import SeedCoderDeployment
from seedcoder.api.spec import SeedCoderDeploymentSpec
from seedcoder.engines import trtllm_args
from seedcoder.engines.trtllm_args import trtllm_build_args
from seedcoder.engines.trtllm_constraints import violations
from seedcoder.operator.objects.engineplan import InvalidSpec, cache_problem, distinct_engines, plan_engines

from tests.operator.helpers import parsed
from tests.operator.sample import live, sample, with_path


def test_h100_and_a100_need_different_engines() -> None:
    _, pools = parsed()
    assert len(distinct_engines(pools)) == 2
    h100, a100 = pools
    assert (h100.profile.arch, h100.plan.inputs.precision) == ("sm90", "fp8")
    assert (a100.profile.arch, a100.plan.inputs.precision) == ("sm80", "bf16")


def test_two_pools_on_one_gpu_kind_share_one_engine() -> None:
    body = with_path(
        sample(),
        "pools",
        [
            {"name": "h100-a", "gpu": "H100"},
            {"name": "h100-b", "gpu": "H100", "nodeSelector": {"zone": "b"}},
        ],
    )
    _, pools = parsed(body)
    assert len(distinct_engines(pools)) == 1


def test_two_resources_with_the_same_model_share_keys() -> None:
    _, first = parsed(sample(name="one"))
    _, second = parsed(sample(name="two", gateway={"openMode": True}))
    assert [p.key for p in first] == [p.key for p in second]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("model.revision", "0000000000000000000000000000000000000001"),
        ("engine.precision", "bf16"),
        ("engine.maxBatchSize", 32),
    ],
)
def test_any_engine_input_changes_the_key(path: str, value: object) -> None:
    _, before = parsed()
    _, after = parsed(with_path(sample(), path, value))
    assert before[0].key != after[0].key


def test_source_location_is_not_part_of_the_key() -> None:
    _, before = parsed()
    _, after = parsed(with_path(sample(), "model.source", {"s3": {"uri": "s3://models/seed"}}))
    assert [p.key for p in before] == [p.key for p in after]


def test_gateway_budget_larger_than_every_engine_is_invalid() -> None:
    body = with_path(sample(), "pools", [{"name": "cpu", "gpu": "CPU"}])
    with pytest.raises(InvalidSpec) as err:
        plan_engines(_spec(body))
    assert err.value.field == "spec.gateway.maxContextTokens"


def _spec(body: dict[str, Any]) -> SeedCoderDeploymentSpec:
    return SeedCoderDeployment.parse(live(body)).spec


def test_precision_a_gpu_cannot_run_is_invalid_naming_the_field() -> None:
    body = with_path(sample(), "pools.1.precision", "fp8")
    with pytest.raises(InvalidSpec) as err:
        plan_engines(_spec(body))
    assert err.value.field == "spec.pools[1].precision"
    assert "A100" in err.value.message


EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "manifests" / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_plans_builds_tensorrt_llm_accepts(path: Path) -> None:
    """Every pool of every shipped example: a plan whose TensorRT-LLM flags pass the constraint table."""
    body = yaml.safe_load(path.read_text())
    body.setdefault("metadata", {})["namespace"] = "ml"
    scd = SeedCoderDeployment.parse(live(body))
    pools = plan_engines(scd.spec)  # raises InvalidSpec on a broken rule
    assert pools
    for pe in pools:
        if pe.plan.inputs.runtime == "tensorrt-llm":
            args = trtllm_build_args(pe.plan.inputs)
            assert violations(args, pe.profile.arch) == [], (path.name, pe.pool.name)
            assert args.kv_cache_reuse == scd.spec.engine.kv_cache_reuse


def test_a_broken_constraint_is_an_invalid_spec_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(trtllm_args._QUANT, "int8-sq", ("W8A8_SQ_PER_CHANNEL", "INT8", "float16"))
    with pytest.raises(InvalidSpec, match="Paged Context FMHA") as exc:
        plan_engines(SeedCoderDeployment.parse(live(with_path(sample(), "engine.precision", "int8-sq"))).spec)
    assert exc.value.field == "spec.engine.precision"
    with pytest.raises(InvalidSpec) as exc:
        plan_engines(SeedCoderDeployment.parse(live(with_path(sample(), "engine.maxNumTokens", 16))).spec)
    assert exc.value.field == "spec.engine.maxNumTokens"


@pytest.mark.parametrize(
    ("modes", "shared"),
    [(["ReadWriteMany"], True), (["ReadWriteOnce"], False), (["ReadWriteOncePod"], False), ([], False)],
)
def test_an_engine_cache_that_cannot_be_shared_is_an_invalid_spec(modes: list[str], shared: bool) -> None:
    spec = SeedCoderDeployment.parse(live(sample())).spec
    problem = cache_problem(spec, {"spec": {"accessModes": modes}})
    if shared:
        assert problem is None
    else:
        assert problem is not None
        assert problem.field == "spec.engine.cache.pvc.claimName"
        assert "must be ReadWriteMany" in problem.message
    assert cache_problem(spec, None) is None  # not there yet: its pods wait for it


def test_kubectl_explain_says_the_cache_is_readwritemany_and_shared_per_namespace() -> None:
    from seedcoder.api.crdgen import crd

    engine = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
        "engine"
    ]
    cache = engine["properties"]["cache"]
    text = cache["description"] + cache["properties"]["pvc"]["description"]
    assert "ReadWriteMany" in text
    assert "per namespace" in text or "namespace's resources only" in text

"""The memory budget of an engine on one card, and the admission check built on it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from seedcoder.api.resource import SeedCoderDeployment
from seedcoder.engines import memory
from seedcoder.engines.key import engine_inputs_for
from seedcoder.engines.profiles import get_profile, limits_for, load_profiles
from seedcoder.engines.trtllm_args import trtllm_build_args
from seedcoder.operator.objects.engineplan import InvalidSpec, memory_budget, plan_engines

from tests.operator.sample import live, sample

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "manifests" / "examples").glob("*.yaml"))
GIB = 1 << 30


def test_the_model_shape_gives_the_published_sizes() -> None:
    # FACTS: 8.25 B parameters, about 16.5 GB in BF16; 128 KiB of KV per token in BF16, 64 KiB in FP8
    params = memory.LINEAR_PARAMS + memory.EMBEDDING_PARAMS + memory.NORM_PARAMS
    assert params == pytest.approx(8.25e9, rel=0.002)
    assert memory.weight_bytes("bf16") == pytest.approx(16.5e9, rel=0.002)
    assert memory.kv_bytes_per_token("bf16") == 128 * 1024
    assert memory.kv_bytes_per_token("fp8") == 64 * 1024
    # INT4 AWQ: 4-bit linear layers plus FP16 group scales, FP16 embeddings and LM head
    assert memory.weight_bytes("int4-awq") / GIB == pytest.approx(5.73, abs=0.05)
    assert memory.weight_bytes("fp8") / GIB == pytest.approx(8.87, abs=0.05)


@pytest.mark.parametrize("precision", ["bf16", "fp16", "fp8", "int8-sq", "int4-awq"])
def test_the_kv_cache_width_is_the_one_the_build_asks_for(precision: str) -> None:
    """The budget's KV bytes follow the KV cache quantisation TensorRT-LLM is told to build."""
    profile = get_profile("L40S")
    inputs = engine_inputs_for(profile, "m/n", "r", precision, profile.build_limits)
    fp8_kv = trtllm_build_args(inputs).kv_cache_quant_algo == "FP8"
    assert memory.kv_bytes_per_token(precision) == (64 if fp8_kv else 128) * 1024


@pytest.mark.parametrize("gpu", ["RTX4090", "L4"])
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_an_8b_fp16_engine_does_not_fit_a_24gb_card_and_says_by_how_much(gpu: str, precision: str) -> None:
    profile = get_profile(gpu)
    mb = memory.budget(profile, precision, profile.build_limits)
    assert not mb.fits
    assert mb.weights_gib == pytest.approx(15.37, abs=0.01)
    assert mb.shortfall_gib > 4.0
    assert f"short by {mb.shortfall_gib:.1f} GiB" in mb.summary()
    # what is missing is exactly the gap between what the card has and what it needs
    needed = mb.weights_gib + mb.activations_gib + mb.runtime_gib + mb.kv_needed_gib / memory.KV_FREE_FRACTION
    assert mb.shortfall_gib == pytest.approx(needed - mb.gpu_memory_gib, abs=0.01)


@pytest.mark.parametrize("gpu", ["RTX4090", "L4"])
@pytest.mark.parametrize("precision", ["int4-awq", "fp8"])
def test_int4_awq_and_fp8_fit_a_24gb_card_with_their_kv_budget_stated(gpu: str, precision: str) -> None:
    profile = get_profile(gpu)
    mb = memory.budget(profile, precision, profile.build_limits)
    assert mb.fits
    assert mb.shortfall_gib == 0.0
    assert mb.kv_budget_gib > mb.kv_needed_gib
    # a useful cache: every request of the batch at a typical completion, several at the limits
    assert mb.sequences_at_limits >= 10
    summary = mb.summary()
    assert f"KV cache {mb.kv_budget_gib:.1f} GiB = {mb.kv_budget_tokens} tokens" in summary
    assert summary.endswith("fits")


def test_the_check_follows_the_configured_limits() -> None:
    """FP16 on a 24 GB card fits at a small batch and short context: the limits decide, not the name."""
    profile = get_profile("RTX4090")
    small = limits_for(profile, max_batch_size=4, max_input_len=2048, max_output_len=256)
    assert memory.budget(profile, "fp16", small).fits
    big = limits_for(profile, max_batch_size=64)
    assert not memory.budget(profile, "int8-sq", big).fits
    # FP8's KV cache is half as wide: it holds a batch that INT4 AWQ's FP16 cache cannot
    assert memory.budget(profile, "fp8", big).fits
    assert not memory.budget(profile, "int4-awq", big).fits


def test_every_default_profile_fits_its_own_card() -> None:
    for _gpu, profile in load_profiles().items():
        if profile.runtime != "tensorrt-llm":
            continue
        mb = memory.budget(profile, profile.default_precision, profile.build_limits)
        assert mb.fits, mb.summary()


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_fits_its_cards(path: Path) -> None:
    body = yaml.safe_load(path.read_text())
    scd = SeedCoderDeployment.parse(live({**body, "metadata": {**body["metadata"], "namespace": "ml"}}))
    for pe in plan_engines(scd.spec):
        mb = memory_budget(pe.profile, pe.plan)
        assert mb is None or mb.fits, mb.summary()


def test_admission_refuses_fp16_on_an_rtx4090_naming_the_field_and_the_gap() -> None:
    body = sample(pools=[{"name": "rtx", "gpu": "RTX4090"}], engine={"precision": "fp16"})
    with pytest.raises(InvalidSpec) as err:
        plan_engines(SeedCoderDeployment.parse(live(body)).spec)
    assert err.value.field == "spec.engine.precision"
    assert "does not fit on one RTX4090" in err.value.message
    assert "short by" in err.value.message
    assert "GiB" in err.value.message
    # a pool's own precision is named as the pool's field
    body = sample(pools=[{"name": "l4", "gpu": "L4", "precision": "bf16"}])
    with pytest.raises(InvalidSpec) as err:
        plan_engines(SeedCoderDeployment.parse(live(body)).spec)
    assert err.value.field == "spec.pools[0].precision"


def test_a_llamacpp_pool_on_a_24gb_card_plans_a_cuda_gguf_engine() -> None:
    body = sample(
        pools=[{"name": "gguf", "gpu": "L4", "runtime": "llamacpp", "precision": "gguf-q8_0"}],
        gateway={"maxContextTokens": 8192, "apiKeySecretRef": {"name": "k"}},
    )
    (pe,) = plan_engines(SeedCoderDeployment.parse(live(body)).spec)
    assert (pe.profile.runtime, pe.profile.arch, pe.plan.inputs.precision) == (
        "llamacpp",
        "sm89",
        "gguf-q8_0",
    )
    assert pe.plan.inputs.llamacpp_version
    assert pe.plan.inputs.trtllm_version is None
    assert "seedcoder-triton-llamacpp-cuda" in pe.image
    assert memory_budget(pe.profile, pe.plan) is None
    # the same GGUF engine on the CPU is another engine (arch and image in the key)
    cpu = sample(
        pools=[{"name": "cpu", "gpu": "CPU", "precision": "gguf-q8_0"}], engine={"maxInputLen": 8192}
    )
    (cpe,) = plan_engines(SeedCoderDeployment.parse(live(cpu)).spec)
    assert cpe.key != pe.key
    # a runtime the kind does not offer is refused by name
    bad = sample(pools=[{"name": "h", "gpu": "H100", "runtime": "llamacpp"}])
    with pytest.raises(InvalidSpec) as err:
        plan_engines(SeedCoderDeployment.parse(live(bad)).spec)
    assert err.value.field == "spec.pools[0].runtime"

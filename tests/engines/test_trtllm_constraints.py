"""TensorRT-LLM's builder constraints (data) and every plan the profiles can make checked against them."""

from __future__ import annotations

from typing import Any

import pytest
from seedcoder.engines import trtllm_args
from seedcoder.engines.buildcmd import ModelSource, make_plan
from seedcoder.engines.key import engine_inputs_for
from seedcoder.engines.profiles import get_profile, load_profiles
from seedcoder.engines.trtllm_args import TrtllmBuildArgs, trtllm_build_args
from seedcoder.engines.trtllm_constraints import (
    ConstraintError,
    checked_trtllm_build_args,
    load_table,
    violations,
)

REV = "0123456789abcdef0123456789abcdef01234567"
TRTLLM_GPUS = sorted(g for g, p in load_profiles().items() if p.runtime == "tensorrt-llm")


def _args(gpu: str = "A100", precision: str = "bf16", **update: Any) -> TrtllmBuildArgs:
    p = get_profile(gpu)
    args = trtllm_build_args(engine_inputs_for(p, "m/x", REV, precision, p.build_limits))
    return args.model_copy(update=update)


def test_the_table_is_for_the_pinned_tensorrt_llm() -> None:
    versions = {load_profiles()[g].trtllm_version for g in TRTLLM_GPUS}
    assert versions == {load_table().trtllm_version}


@pytest.mark.parametrize(
    ("gpu", "precision"),
    [(g, p) for g in TRTLLM_GPUS for p in get_profile(g).supported_precisions],
)
@pytest.mark.parametrize("reuse", [True, False])
def test_every_profile_and_precision_plans_a_build_tensorrt_llm_accepts(
    gpu: str, precision: str, reuse: bool
) -> None:
    p = get_profile(gpu)
    inputs = engine_inputs_for(p, "m/x", REV, precision, p.build_limits, kv_cache_reuse=reuse)
    assert violations(trtllm_build_args(inputs), p.arch) == []


def test_int8_smoothquant_no_longer_pairs_an_int8_kv_cache_with_paged_context_fmha() -> None:
    sq = _args("A100", "int8-sq")
    assert sq.use_paged_context_fmha
    assert sq.kv_cache_quant_algo is None
    assert violations(sq, "sm80") == []


# One case per rule that breaks exactly that rule: the table has no dead rules and its
# checker reads every field it names.
BREAKERS: dict[str, tuple[str, dict[str, Any]]] = {
    "paged-context-fmha-with-int8-kv-cache": (
        "sm80",
        {"quant_algo": "W8A8_SQ_PER_CHANNEL", "kv_cache_quant_algo": "INT8", "dtype": "float16"},
    ),
    "fp8-kv-cache-paged-fmha-needs-fp8-workflow": (
        "sm90",
        {"quant_algo": "W4A16_AWQ", "kv_cache_quant_algo": "FP8"},
    ),
    "fp8-needs-ada-or-hopper": ("sm80", {"quant_algo": "FP8", "kv_cache_quant_algo": None}),
    "fp8-kv-cache-needs-ada-or-hopper": ("sm80", {"quant_algo": "FP8", "kv_cache_quant_algo": "FP8"}),
    "no-int8-int4-or-smoothquant-on-blackwell": (
        "sm100",
        {"quant_algo": "W4A16_AWQ", "kv_cache_quant_algo": None},
    ),
    "kv-cache-reuse-needs-paged-context-fmha": (
        "sm80",
        {"use_paged_context_fmha": False, "chunked_context": False},
    ),
    "chunked-context-needs-paged-context-fmha": (
        "sm80",
        {"use_paged_context_fmha": False, "kv_cache_reuse": False},
    ),
    "max-input-len-within-max-seq-len": ("sm80", {"max_input_len": 9000}),
    "max-num-tokens-within-batch": ("sm80", {"max_num_tokens": 16}),
    "long-prompts-need-chunked-context": ("sm80", {"chunked_context": False, "max_num_tokens": 4096}),
    "no-lora-with-smoothquant": (
        "sm80",
        {"quant_algo": "W8A8_SQ_PER_CHANNEL", "dtype": "float16", "lora_plugin": True, "max_lora_rank": 16},
    ),
}


def test_every_rule_has_a_breaking_case() -> None:
    assert set(BREAKERS) == {r.id for r in load_table().rules}


@pytest.mark.parametrize("rule", sorted(BREAKERS))
def test_each_rule_fires_on_its_combination(rule: str) -> None:
    arch, update = BREAKERS[rule]
    base = _args("H100", "fp8") if arch in {"sm90", "sm100"} else _args("A100", "bf16")
    broken = [v.rule for v in violations(base.model_copy(update=update), arch)]
    assert rule in broken


def test_the_check_names_the_rule_the_source_and_the_spec_field(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pairing this project shipped before: INT8 SmoothQuant with an INT8 KV cache."""
    monkeypatch.setitem(trtllm_args._QUANT, "int8-sq", ("W8A8_SQ_PER_CHANNEL", "INT8", "float16"))
    p = get_profile("A100")
    with pytest.raises(ConstraintError, match="Paged Context FMHA doesn't work with int8 kv cache") as exc:
        checked_trtllm_build_args(engine_inputs_for(p, "m/x", REV, "int8-sq", p.build_limits))
    assert [v.spec_field for v in exc.value.violations] == ["precision"]
    assert "builder.py" in str(exc.value)
    with pytest.raises(ValueError, match="paged-context-fmha-with-int8-kv-cache"):
        make_plan(
            p,
            model_name="m/x",
            revision=REV,
            precision="int8-sq",
            limits=p.build_limits,
            source=ModelSource(kind="pvc", location="/models"),
            cache_dir="/cache",
        )

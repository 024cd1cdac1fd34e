"""Golden files: the TensorRT-LLM model repository and build arguments for H100 FP8 and A100 BF16.

Regenerate after an intended change with ``SEEDCODER_UPDATE_GOLDEN=1 pytest tests/engines``
and review the diff: every parameter carries a comment saying why it is there.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml
from seedcoder.engines.buildcmd import BuildPlan, ModelSource, make_plan
from seedcoder.engines.key import EngineLora
from seedcoder.engines.profiles import get_profile
from seedcoder.engines.trtllm_args import trtllm_build_args
from seedcoder.engines.trtllm_repo import repository_files_for

from tests.engines.plans import build_image_for

GOLDEN = Path(__file__).parent / "golden"
pytestmark = pytest.mark.usefixtures("pinned_repository_source")
CASES: dict[str, tuple[str, str, EngineLora | None]] = {
    "h100-fp8": ("H100", "fp8", None),
    "a100-bf16": ("A100", "bf16", None),
    "a100-bf16-lora": ("A100", "bf16", EngineLora(max_rank=64, typical_rank=16)),
}
LORA_INPUTS = {"lora_task_id", "lora_weights", "lora_config"}


def _plan(gpu: str, precision: str, lora: EngineLora | None = None) -> BuildPlan:
    profile = get_profile(gpu)
    return make_plan(
        profile,
        model_name="ByteDance-Seed/Seed-Coder-8B-Base",
        revision="0123456789abcdef0123456789abcdef01234567",
        precision=precision,
        limits=profile.build_limits,
        source=ModelSource(kind="pvc", location="/models/seed-coder-8b-base"),
        cache_dir="/var/cache/seedcoder",
        build_image=build_image_for(profile),
        lora=lora,
    )


def _rendered(case: str) -> dict[str, str]:
    plan = _plan(*CASES[case])
    files = {k: v for k, v in repository_files_for(plan).items() if k.endswith("config.pbtxt")}
    args = trtllm_build_args(plan.inputs).model_dump(mode="json")
    files["trtllm_build.json"] = json.dumps(args, indent=2, sort_keys=True) + "\n"
    return files


def _params(pbtxt: str) -> dict[str, str]:
    return dict(re.findall(r'key: "([^"]+)"\n  value: \{ string_value: "([^"]*)" \}', pbtxt))


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_golden_files(case: str) -> None:
    rendered = _rendered(case)
    if os.environ.get("SEEDCODER_UPDATE_GOLDEN") == "1":
        for rel, content in rendered.items():
            (GOLDEN / case / rel).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / case / rel).write_text(content)
    on_disk = {
        str(p.relative_to(GOLDEN / case)): p.read_text() for p in (GOLDEN / case).rglob("*") if p.is_file()
    }
    assert on_disk == rendered


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_parameter_and_tensor_says_why(case: str) -> None:
    for rel, text in _rendered(case).items():
        if not rel.endswith(".pbtxt"):
            continue
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("parameters: {") or (line.strip() == "{" and lines[i - 1].startswith("  ")):
                assert lines[i - 1].lstrip().startswith("#"), f"{rel}:{i + 1} has no reason above it"


@pytest.mark.parametrize("case", sorted(CASES))
def test_engine_serving_parameters_that_matter(case: str) -> None:
    plan = _plan(*CASES[case])
    files = repository_files_for(plan)
    trt = files["tensorrt_llm/config.pbtxt"]
    params = _params(trt)
    assert params["gpt_model_type"] == "inflight_fused_batching"
    assert params["enable_kv_cache_reuse"] == "true"
    assert params["enable_chunked_context"] == "true"
    assert params["exclude_input_in_output"] == "true"
    assert params["gpt_model_path"] == f"/var/cache/seedcoder/engines/{plan.key}/engine"
    assert "decoupled: true" in trt
    assert f"max_batch_size: {plan.inputs.limits.max_batch_size}" in trt
    bls = files["seedcoder/config.pbtxt"]
    assert 'name: "seedcoder"' in bls
    assert "decoupled: true" in bls
    assert "max_batch_size: 0" in bls
    assert _params(bls)["tokenizer_dir"] == f"/var/cache/seedcoder/engines/{plan.key}/tokenizer"
    assert _params(files["seedcoder_tokenize/config.pbtxt"])["tokenizer_kind"] == "huggingface"
    for name in (
        "text_input",
        "max_tokens",
        "stop_words",
        "text_output",
        "finish_reason",
        "output_token_count",
    ):
        assert f'name: "{name}"' in bls


def test_gemm_plugin_and_quantisation_follow_the_precision() -> None:
    h100 = trtllm_build_args(_plan("H100", "fp8").inputs)
    assert (h100.gemm_plugin, h100.quant_algo, h100.kv_cache_quant_algo) == (None, "FP8", "FP8")
    assert h100.needs_calibration
    a100 = trtllm_build_args(_plan("A100", "bf16").inputs)
    assert (a100.gemm_plugin, a100.quant_algo, a100.dtype) == ("auto", None, "bfloat16")
    assert not a100.needs_calibration
    awq = trtllm_build_args(_plan("A100", "int4-awq").inputs)
    assert (awq.quant_algo, awq.gemm_plugin) == ("W4A16_AWQ", "auto")
    sq = trtllm_build_args(_plan("A100", "int8-sq").inputs)
    # FP16 KV cache: TensorRT-LLM refuses paged context FMHA with an INT8 KV cache.
    assert (sq.quant_algo, sq.kv_cache_quant_algo) == ("W8A8_SQ_PER_CHANNEL", None)
    for args in (h100, a100, awq, sq):
        assert args.kv_cache_type == "paged"
        assert args.use_paged_context_fmha
        assert args.max_seq_len == args.max_input_len + 512


def test_a_llamacpp_plan_is_not_a_tensorrt_llm_repository() -> None:
    with pytest.raises(ValueError, match="llamacpp"):
        repository_files_for(_plan("CPU", "auto"))


UPSTREAM = yaml.safe_load((Path(__file__).parent / "data" / "upstream_tensorrt_llm_model.yaml").read_text())


def _section_names(pbtxt: str, section: str) -> set[str]:
    start = pbtxt.index(f"{section} [")
    end = pbtxt.index("\n]", start)
    return set(re.findall(r'name: "([^"]+)"', pbtxt[start:end]))


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_tensorrt_llm_model_uses_only_upstream_names(case: str) -> None:
    """A name the backend does not know is silently ignored (a seed that never seeds)."""
    text = (GOLDEN / case / "tensorrt_llm" / "config.pbtxt").read_text()
    assert _section_names(text, "input") <= set(UPSTREAM["inputs"])
    assert _section_names(text, "output") <= set(UPSTREAM["outputs"])
    assert set(_params(text)) <= set(UPSTREAM["parameters"])
    bls = Path(__file__).resolve().parents[2] / "engines" / "triton" / "trtllm_bls" / "model.py"
    sent = set(re.findall(r'_t\("([a-z_]+)"', bls.read_text()))
    if CASES[case][2] is None:  # an engine without the LoRA plugin is never sent adapter tensors
        sent -= LORA_INPUTS
    assert sent <= _section_names(text, "input"), sent - _section_names(text, "input")


def test_a_lora_engine_is_served_with_the_lora_cache_and_takes_adapters_by_task_id() -> None:
    """NOT EXECUTED HERE (no GPU): what the TensorRT-LLM LoRA path plans and generates."""
    plan = _plan("A100", "bf16", EngineLora(max_rank=32, typical_rank=8, gpu_cache_fraction=0.1))
    args = trtllm_build_args(plan.inputs)
    assert args.lora_plugin
    assert args.max_lora_rank == 32
    assert args.lora_target_modules == ("attn_q", "attn_k", "attn_v", "attn_dense")
    files = repository_files_for(plan)
    trt = files["tensorrt_llm/config.pbtxt"]
    params = _params(trt)
    assert params["lora_cache_optimal_adapter_size"] == "8"
    assert params["lora_cache_max_adapter_size"] == "32"
    assert params["lora_cache_gpu_memory_fraction"] == "0.1"
    assert params["lora_cache_host_memory_bytes"] == str(1 << 30)
    assert _section_names(trt, "input") >= LORA_INPUTS
    assert 'name: "lora_weights"\n    data_type: TYPE_BF16' in trt
    bls = _params(files["seedcoder/config.pbtxt"])
    assert bls["lora_dir"] == "/var/lib/seedcoder/adapters"
    assert bls["lora_weights_dtype"] == "bfloat16"
    plain = _plan("A100", "bf16")
    assert plain.key != plan.key  # a LoRA engine is another engine
    assert "lora_task_id" not in repository_files_for(plain)["tensorrt_llm/config.pbtxt"]
    assert _params(repository_files_for(plain)["seedcoder/config.pbtxt"])["lora_dir"] == ""


def test_smoothquant_engines_cannot_serve_lora_adapters() -> None:
    with pytest.raises(ValueError, match="no-lora-with-smoothquant"):
        _plan("A100", "int8-sq", EngineLora())
    assert trtllm_build_args(_plan("A100", "int4-awq", EngineLora()).inputs).lora_plugin

"""What the build program passes to TensorRT-LLM and ModelOpt, decided from the plan alone.

Why: the GPU step cannot run here, so everything it is told must be decided by
pure code that is tested (golden files): data type, quantisation algorithm, KV
cache layout, plugins and limits. The build step (``builders``) only
translates these arguments into TensorRT-LLM objects, and the Triton repository
(``trtllm_repo``) takes its KV-cache reuse and chunked-context switches from
here, so the engine and its serving configuration cannot disagree. Every set of
arguments is checked against TensorRT-LLM's own constraints
(``trtllm_constraints``) before anything is built.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from seedcoder.engines.key import EngineInputs, EngineLora

# PEFT module name -> TensorRT-LLM LoRA module name (tensorrt_llm/lora_manager.py's default mapping).
TRTLLM_LORA_MODULES: dict[str, str] = {
    "q_proj": "attn_q",
    "k_proj": "attn_k",
    "v_proj": "attn_v",
    "o_proj": "attn_dense",
    "gate_proj": "mlp_h_to_4h",
    "down_proj": "mlp_4h_to_h",
    "up_proj": "mlp_gate",
}

# precision -> (quant_algo, kv_cache_quant_algo, dtype)  (TensorRT-LLM QuantAlgo names)
_QUANT: dict[str, tuple[str | None, str | None, Literal["bfloat16", "float16"]]] = {
    "bf16": (None, None, "bfloat16"),
    "fp16": (None, None, "float16"),
    # FP8 weights and activations (ModelOpt), FP8 KV cache: half the KV memory of BF16.
    "fp8": ("FP8", "FP8", "bfloat16"),
    # SmoothQuant W8A8 per-channel (Ampere's fast INT8 tensor cores) with an FP16 KV cache:
    # TensorRT-LLM refuses paged context FMHA with an INT8 KV cache, and without paged
    # context FMHA there is neither KV-cache reuse nor chunked context (long FIM prompts).
    "int8-sq": ("W8A8_SQ_PER_CHANNEL", None, "float16"),
    # AWQ INT4 weights, FP16 activations: smallest weights, best for memory-bound decode.
    "int4-awq": ("W4A16_AWQ", None, "float16"),
}


class TrtllmBuildArgs(BaseModel):
    """Arguments of ``LLM(model, build_config=BuildConfig(...), quant_config=...)``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dtype: Literal["bfloat16", "float16"]
    max_batch_size: int
    max_input_len: int
    max_seq_len: int
    max_num_tokens: int
    max_beam_width: int = 1
    kv_cache_type: Literal["paged"] = Field(
        default="paged", description="Paged KV cache (inflight batching)."
    )
    use_paged_context_fmha: bool = Field(
        default=True, description="Needed by KV-cache reuse and chunked context."
    )
    kv_cache_reuse: bool = Field(
        description="Reuse KV blocks of shared prompt prefixes (spec.engine.kvCacheReuse): "
        "the LLM API's KvCacheConfig and Triton's enable_kv_cache_reuse."
    )
    chunked_context: bool = Field(
        default=True, description="Prefill long prompts in max_num_tokens chunks (enable_chunked_context)."
    )
    gemm_plugin: Literal["auto"] | None = Field(
        description="On for BF16/FP16; off for FP8 (FP8 GEMMs are faster)."
    )
    tokens_per_block: int = Field(default=32, description="KV block size: smaller blocks reuse more prefix.")
    multiple_profiles: bool = Field(default=True, description="Longer build, faster kernels per shape.")
    quant_algo: str | None
    kv_cache_quant_algo: str | None
    calib_batches: int = 512
    calib_max_seq_length: int = 2048
    lora_plugin: bool = Field(
        default=False, description="Build with the LoRA plugin (dtype auto): adapters by lora_task_id."
    )
    max_lora_rank: int | None = Field(default=None, description="BuildConfig.lora_config.max_lora_rank.")
    lora_target_modules: tuple[str, ...] = Field(
        default=(), description="BuildConfig.lora_config.lora_target_modules (TensorRT-LLM names)."
    )

    @property
    def needs_calibration(self) -> bool:
        """ModelOpt calibrates activations/KV scales (and AWQ weights) on sample data."""
        return self.quant_algo is not None or self.kv_cache_quant_algo is not None


def trtllm_build_args(inputs: EngineInputs) -> TrtllmBuildArgs:
    """The arguments for ``inputs`` (a TensorRT-LLM engine's inputs)."""
    if inputs.runtime != "tensorrt-llm":
        raise ValueError(f"{inputs.runtime} engines are not built with TensorRT-LLM")
    try:
        quant_algo, kv_algo, dtype = _QUANT[inputs.precision]
    except KeyError:
        raise ValueError(f"TensorRT-LLM cannot build precision {inputs.precision!r}") from None
    limits = inputs.limits
    return TrtllmBuildArgs(
        kv_cache_reuse=bool(inputs.kv_cache_reuse),
        dtype=dtype,
        max_batch_size=limits.max_batch_size,
        max_input_len=limits.max_input_len,
        max_seq_len=limits.max_seq_len,
        max_num_tokens=limits.max_num_tokens,
        gemm_plugin=None if inputs.precision == "fp8" else "auto",
        quant_algo=quant_algo,
        kv_cache_quant_algo=kv_algo,
        **_lora(inputs.lora),
    )


def _lora(lora: EngineLora | None) -> dict[str, object]:
    if lora is None:
        return {}
    return {
        "lora_plugin": True,
        "max_lora_rank": lora.max_rank,
        "lora_target_modules": tuple(TRTLLM_LORA_MODULES[m] for m in lora.target_modules),
    }

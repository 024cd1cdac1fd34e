"""The Triton model repository that serves a TensorRT-LLM engine as ``seedcoder``.

Why this shape: the gateway needs one text-in, text-out model with token counts,
stop strings and a finish reason (docs/interfaces.md), which NVIDIA's ensemble does
not offer. So the repository has three models:

- ``tensorrt_llm``: the C++ ``tensorrtllm`` backend running the engine with
  inflight fused batching, paged KV cache with reuse, chunked context;
- ``seedcoder``: a Python BLS model (decoupled) that tokenises with the Seed-Coder
  tokenizer saved beside the engine, streams from ``tensorrt_llm``, turns tokens
  into clean UTF-8 deltas (accumulating tokens, so no broken characters), applies
  stop strings, and reports counts and the finish reason;
- ``seedcoder_tokenize``: token counts for the gateway's context budget.

Pure: returns file contents; the build program writes them. Paths are absolute
paths in the serving pod, which mounts the engine cache where the build Job did
(``seedcoder.engines.layout``).
"""

from __future__ import annotations

from seedcoder.engines import layout, pbtxt
from seedcoder.engines.buildcmd import BuildPlan
from seedcoder.engines.contract import GENERATE_INPUTS, GENERATE_OUTPUTS, MODEL_NAME, TOKENIZE_MODEL_NAME
from seedcoder.engines.llamacpp_repo import model_source, tokenize_config
from seedcoder.engines.lora import SERVING_LORA_DIR
from seedcoder.engines.pbtxt import Param, TensorSpec
from seedcoder.engines.trtllm_args import trtllm_build_args

TRTLLM_MODEL = "tensorrt_llm"
SCALAR = (1,)
FLAT: tuple[int, ...] = ()

_TRTLLM_INPUTS: tuple[TensorSpec, ...] = (
    TensorSpec("input_ids", "TYPE_INT32", (-1,), why="Prompt token ids.", ragged=True),
    TensorSpec("input_lengths", "TYPE_INT32", SCALAR, why="Prompt length.", reshape=FLAT),
    TensorSpec("request_output_len", "TYPE_INT32", SCALAR, why="max_tokens."),
    TensorSpec("end_id", "TYPE_INT32", SCALAR, True, "EOS id from the tokenizer.", reshape=FLAT),
    TensorSpec("pad_id", "TYPE_INT32", SCALAR, True, "Pad id from the tokenizer.", reshape=FLAT),
    TensorSpec("stop_words_list", "TYPE_INT32", (2, -1), True, "Stop strings as token ids.", ragged=True),
    TensorSpec("streaming", "TYPE_BOOL", SCALAR, True, "The BLS always streams (cancel, stop strings)."),
    TensorSpec("temperature", "TYPE_FP32", SCALAR, True, "Sampling temperature.", reshape=FLAT),
    TensorSpec("runtime_top_k", "TYPE_INT32", SCALAR, True, "Top-k.", reshape=FLAT),
    TensorSpec("runtime_top_p", "TYPE_FP32", SCALAR, True, "Top-p.", reshape=FLAT),
    TensorSpec("seed", "TYPE_UINT64", SCALAR, True, "Seed for reproducible candidates.", reshape=FLAT),
    TensorSpec("repetition_penalty", "TYPE_FP32", SCALAR, True, "Repetition penalty.", reshape=FLAT),
    TensorSpec("return_log_probs", "TYPE_BOOL", SCALAR, True, "Candidate ranking.", reshape=FLAT),
)
_TRTLLM_OUTPUTS: tuple[TensorSpec, ...] = (
    TensorSpec("output_ids", "TYPE_INT32", (-1, -1), why="New token ids (input excluded)."),
    TensorSpec("sequence_length", "TYPE_INT32", (-1,), why="Tokens in output_ids."),
    TensorSpec("cum_log_probs", "TYPE_FP32", (-1,), why="Cumulative log-probability per beam."),
    TensorSpec("output_log_probs", "TYPE_FP32", (-1, -1), why="Per-token log-probabilities."),
)


_LORA_INPUTS: tuple[TensorSpec, ...] = (
    TensorSpec("lora_task_id", "TYPE_UINT64", SCALAR, True, "The adapter's LoRA cache id.", reshape=FLAT),
    TensorSpec(
        "lora_config",
        "TYPE_INT32",
        (-1, 3),
        True,
        "[module, layer, rank] per weight row (first use).",
        ragged=True,
    ),
)


def _lora_weights(dtype: str) -> TensorSpec:
    data_type = "TYPE_BF16" if dtype == "bfloat16" else "TYPE_FP16"
    return TensorSpec(
        "lora_weights",
        data_type,
        (-1, -1),
        True,
        "Flattened A/B per module and layer (first use).",
        ragged=True,
    )


def _lora_params(plan: BuildPlan) -> list[Param]:
    lora = plan.inputs.lora
    if lora is None:
        return []
    return [
        Param(
            "lora_cache_optimal_adapter_size",
            str(lora.typical_rank),
            "Rank most adapters have: one adapter fills one cache page.",
        ),
        Param(
            "lora_cache_max_adapter_size",
            str(lora.max_rank),
            "Largest adapter rank the cache pages must hold (the engine's max_lora_rank).",
        ),
        Param(
            "lora_cache_gpu_memory_fraction",
            f"{lora.gpu_cache_fraction:g}",
            "GPU memory left after weights and KV cache given to adapters.",
        ),
        Param(
            "lora_cache_host_memory_bytes",
            str(lora.host_cache_bytes),
            "Host cache of adapters evicted from the GPU (sent again by the BLS on a miss).",
        ),
    ]


def _flag(on: bool) -> str:
    return "true" if on else "false"


def tensorrt_llm_config(plan: BuildPlan, engine_dir: str) -> str:
    limits = plan.inputs.limits
    args = trtllm_build_args(plan.inputs)  # the engine was built with these: serve it the same way
    return "".join(
        [
            pbtxt.header(
                TRTLLM_MODEL,
                "tensorrtllm",
                limits.max_batch_size,
                "The engine; max_batch_size must equal the engine's (it was built for it).",
            ),
            pbtxt.decoupled("Streaming: the backend sends each new token as it is generated."),
            pbtxt.dynamic_batching(
                0, "Requests join the in-flight batch at once; no waiting to fill a batch."
            ),
            pbtxt.tensors(
                "input",
                _TRTLLM_INPUTS + ((*_LORA_INPUTS, _lora_weights(args.dtype)) if args.lora_plugin else ()),
            ),
            pbtxt.tensors("output", _TRTLLM_OUTPUTS),
            pbtxt.instance_group(
                1, "KIND_CPU", "The backend drives the GPU itself; one executor per engine."
            ),
            pbtxt.parameters(
                [
                    Param(
                        "gpt_model_type", "inflight_fused_batching", "Continuous batching: the TTFT lever."
                    ),
                    Param(
                        "gpt_model_path", engine_dir, "The engine built for this key (absolute, read-only)."
                    ),
                    Param("max_beam_width", "1", "Sampling/greedy only; the engine was built with beam 1."),
                    Param(
                        "batch_scheduler_policy",
                        "guaranteed_no_evict",
                        "Admit a request only if its KV cache fits to the end: no mid-stream eviction.",
                    ),
                    Param(
                        "kv_cache_free_gpu_mem_fraction",
                        "0.9",
                        "KV cache takes 90% of the memory left after weights (FACTS: 0.9).",
                    ),
                    Param(
                        "enable_kv_cache_reuse",
                        _flag(args.kv_cache_reuse),
                        "Reuse KV blocks of shared prompt prefixes (spec.engine.kvCacheReuse; "
                        "needs paged context FMHA, built in).",
                    ),
                    Param(
                        "enable_chunked_context",
                        _flag(args.chunked_context),
                        "Long FIM prompts are prefilled in chunks, so running decodes keep flowing.",
                    ),
                    Param(
                        "exclude_input_in_output", "true", "Return only new tokens; the BLS decodes deltas."
                    ),
                    Param(
                        "cancellation_check_period_ms",
                        "20",
                        "A cancelled request (client gone) frees its batch slot within 20 ms.",
                    ),
                    Param("decoding_mode", "top_k_top_p", "Greedy and top-k/top-p sampling; no beam search."),
                    Param(
                        "normalize_log_probs", "false", "Raw cumulative log-probabilities rank candidates."
                    ),
                    Param("FORCE_CPU_ONLY_INPUT_TENSORS", "no", "Let the backend keep inputs on the GPU."),
                    *_lora_params(plan),
                ]
            ),
        ]
    )


def bls_config(plan: BuildPlan, tokenizer_dir: str) -> str:
    limits = plan.inputs.limits
    return "".join(
        [
            pbtxt.header(
                MODEL_NAME,
                "python",
                0,
                "The gateway's model: text in, text out (docs/interfaces.md); no batch dim.",
            ),
            pbtxt.decoupled("Streaming: one response per text delta, the last flagged final."),
            pbtxt.tensors("input", GENERATE_INPUTS),
            pbtxt.tensors("output", GENERATE_OUTPUTS),
            pbtxt.instance_group(
                1, "KIND_CPU", "Requests run on the model's thread pool (concurrency), not extra processes."
            ),
            pbtxt.parameters(
                [
                    Param("tokenizer_dir", tokenizer_dir, "Seed-Coder tokenizer saved beside the engine."),
                    Param(
                        "max_tokens_limit", str(limits.max_output_len), "Largest max_tokens (engine limit)."
                    ),
                    Param("max_input_len", str(limits.max_input_len), "Longest prompt the engine accepts."),
                    Param(
                        "concurrency",
                        str(limits.max_batch_size),
                        "Requests streamed at once: enough to fill the engine's in-flight batch.",
                    ),
                    Param("trtllm_model", TRTLLM_MODEL, "The engine model this BLS calls."),
                    Param(
                        "lora_dir",
                        SERVING_LORA_DIR if plan.inputs.lora is not None else "",
                        "Published adapters, TensorRT-LLM format (read-only); empty: an engine without LoRA.",
                    ),
                    Param(
                        "lora_weights_dtype",
                        trtllm_build_args(plan.inputs).dtype,
                        "LoRA weights must match the engine's dtype (TensorRT-LLM's loraUtils check).",
                    ),
                ]
            ),
        ]
    )


def trtllm_repository_files(plan: BuildPlan, *, engine_dir: str, tokenizer_dir: str) -> dict[str, str]:
    """Relative path -> content of every file in the TensorRT-LLM repository."""
    if plan.inputs.runtime != "tensorrt-llm":
        raise ValueError(f"plan {plan.key} is a {plan.inputs.runtime} engine, not tensorrt-llm")
    return {
        f"{TRTLLM_MODEL}/config.pbtxt": tensorrt_llm_config(plan, engine_dir),
        f"{TRTLLM_MODEL}/1/.keep": "",
        f"{MODEL_NAME}/config.pbtxt": bls_config(plan, tokenizer_dir),
        f"{MODEL_NAME}/1/model.py": model_source("trtllm_bls"),
        f"{TOKENIZE_MODEL_NAME}/config.pbtxt": tokenize_config("huggingface", tokenizer_dir),
        f"{TOKENIZE_MODEL_NAME}/1/model.py": model_source("tokenize"),
    }


def repository_files_for(plan: BuildPlan) -> dict[str, str]:
    """The repository as published at ``<cache>/engines/<key>/triton`` (engine and tokenizer beside it)."""
    return trtllm_repository_files(
        plan,
        engine_dir=layout.engine_dir(plan.cache_dir, plan.key),
        tokenizer_dir=layout.tokenizer_dir(plan.cache_dir, plan.key),
    )

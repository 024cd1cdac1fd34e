"""The Triton tensor contract of the ``seedcoder`` and ``seedcoder_tokenize`` models.

Why: docs/interfaces.md defines one text interface that the gateway calls whatever
runtime serves it. Both repository generators (TensorRT-LLM and llama.cpp) take the
tensors from here, so the two runtimes cannot drift apart.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from seedcoder.engines.pbtxt import TensorSpec

MODEL_NAME = "seedcoder"
TOKENIZE_MODEL_NAME = "seedcoder_tokenize"

GENERATE_INPUTS: tuple[TensorSpec, ...] = (
    TensorSpec("text_input", "TYPE_STRING", (1,), why="The whole prompt, FIM template already applied."),
    TensorSpec("max_tokens", "TYPE_INT32", (1,), why="Tokens to generate, 1..max_tokens_limit."),
    TensorSpec("stream", "TYPE_BOOL", (1,), True, "True: one response per token chunk."),
    TensorSpec("stop_words", "TYPE_STRING", (-1,), True, "Stop strings; excluded from the output."),
    TensorSpec("temperature", "TYPE_FP32", (1,), True, "0 (the default) is greedy."),
    TensorSpec("top_p", "TYPE_FP32", (1,), True, "Nucleus sampling, (0, 1]."),
    TensorSpec("top_k", "TYPE_INT32", (1,), True, "0 disables top-k."),
    TensorSpec("seed", "TYPE_UINT64", (1,), True, "Sampling seed, for reproducible candidates."),
    TensorSpec("min_p", "TYPE_FP32", (1,), True, "Min-p sampling, [0, 1]; 0 disables it (llama.cpp only)."),
    TensorSpec("repetition_penalty", "TYPE_FP32", (1,), True, "Repetition penalty; 1 disables it."),
    TensorSpec("return_log_probs", "TYPE_BOOL", (1,), True, "Fill cum_log_prob (candidate ranking)."),
    TensorSpec("lora_path", "TYPE_STRING", (1,), True, "LoRA adapter, relative to lora_dir (engines.lora)."),
    TensorSpec("lora_scale", "TYPE_FP32", (1,), True, "LoRA scale (llama.cpp), (0, 4]; default 1."),
    TensorSpec("lora_task_id", "TYPE_UINT64", (1,), True, "TensorRT-LLM LoRA cache id of the adapter."),
)

GENERATE_OUTPUTS: tuple[TensorSpec, ...] = (
    TensorSpec(
        "text_output", "TYPE_STRING", (-1,), why="Streamed: this response's new text; else all of it."
    ),
    TensorSpec("output_token_count", "TYPE_INT32", (1,), why="Tokens generated so far."),
    TensorSpec("input_token_count", "TYPE_INT32", (1,), why="Tokens in the prompt."),
    TensorSpec(
        "cum_log_prob", "TYPE_FP32", (1,), why="Sum of generated tokens' log-probabilities, if asked."
    ),
    TensorSpec("finish_reason", "TYPE_STRING", (1,), why="On the last response: stop or length."),
)

TOKENIZE_INPUTS: tuple[TensorSpec, ...] = (
    TensorSpec("text_input", "TYPE_STRING", (1,), why="Text to count, UTF-8."),
)
TOKENIZE_OUTPUTS: tuple[TensorSpec, ...] = (
    TensorSpec("token_count", "TYPE_INT32", (1,), why="Tokens the generating model would see."),
)


def output_arrays(
    text: str,
    generated: int,
    prompt_tokens: int,
    finish: str | None = None,
    cum_log_prob: float | None = None,
) -> list[tuple[str, npt.NDArray[Any]]]:
    """The output tensors of one ``seedcoder`` response, by name, as every runtime's model sends them.

    ``finish_reason`` only on the last response; ``cum_log_prob`` only when asked for.
    """
    arrays: list[tuple[str, npt.NDArray[Any]]] = [
        ("text_output", np.array([text.encode("utf-8")], dtype=np.object_)),
        ("output_token_count", np.array([generated], dtype=np.int32)),
        ("input_token_count", np.array([prompt_tokens], dtype=np.int32)),
    ]
    if finish is not None:
        arrays.append(("finish_reason", np.array([finish.encode()], dtype=np.object_)))
    if cum_log_prob is not None:
        arrays.append(("cum_log_prob", np.array([cum_log_prob], dtype=np.float32)))
    return arrays

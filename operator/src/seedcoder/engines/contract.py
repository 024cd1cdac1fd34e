"""The Triton tensor contract of the ``seedcoder`` and ``seedcoder_tokenize`` models.

Why: docs/interfaces.md defines one text interface that the gateway calls whatever
runtime serves it. Both repository generators (TensorRT-LLM and llama.cpp) take the
tensors from here, so the two runtimes cannot drift apart, and the gateway takes
the model and tensor names (and wire types) from here too, so neither can the
caller and the callee.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from seedcoder.engines.pbtxt import TensorSpec

MODEL_NAME = "seedcoder"
TOKENIZE_SUFFIX = "_tokenize"
"""The tokenizer model of a generating model ``m`` is ``m + TOKENIZE_SUFFIX``."""
TOKENIZE_MODEL_NAME = MODEL_NAME + TOKENIZE_SUFFIX

# Tensor names, inputs then outputs; the specs below and the gateway use these.
TEXT_INPUT = "text_input"
MAX_TOKENS = "max_tokens"
STREAM = "stream"
STOP_WORDS = "stop_words"
TEMPERATURE = "temperature"
TOP_P = "top_p"
TOP_K = "top_k"
SEED = "seed"
MIN_P = "min_p"
REPETITION_PENALTY = "repetition_penalty"
RETURN_LOG_PROBS = "return_log_probs"
LORA_PATH = "lora_path"
LORA_SCALE = "lora_scale"
LORA_TASK_ID = "lora_task_id"
TEXT_OUTPUT = "text_output"
OUTPUT_TOKEN_COUNT = "output_token_count"  # noqa: S105 - a tensor name
INPUT_TOKEN_COUNT = "input_token_count"  # noqa: S105 - a tensor name
CUM_LOG_PROB = "cum_log_prob"
FINISH_REASON = "finish_reason"
TOKEN_COUNT = "token_count"  # noqa: S105 - a tensor name

GENERATE_INPUTS: tuple[TensorSpec, ...] = (
    TensorSpec(TEXT_INPUT, "TYPE_STRING", (1,), why="The whole prompt, FIM template already applied."),
    TensorSpec(MAX_TOKENS, "TYPE_INT32", (1,), why="Tokens to generate, 1..max_tokens_limit."),
    TensorSpec(STREAM, "TYPE_BOOL", (1,), True, "True: one response per token chunk."),
    TensorSpec(STOP_WORDS, "TYPE_STRING", (-1,), True, "Stop strings; excluded from the output."),
    TensorSpec(TEMPERATURE, "TYPE_FP32", (1,), True, "0 (the default) is greedy."),
    TensorSpec(TOP_P, "TYPE_FP32", (1,), True, "Nucleus sampling, (0, 1]."),
    TensorSpec(TOP_K, "TYPE_INT32", (1,), True, "0 disables top-k."),
    TensorSpec(SEED, "TYPE_UINT64", (1,), True, "Sampling seed, for reproducible candidates."),
    TensorSpec(MIN_P, "TYPE_FP32", (1,), True, "Min-p sampling, [0, 1]; 0 disables it (llama.cpp only)."),
    TensorSpec(REPETITION_PENALTY, "TYPE_FP32", (1,), True, "Repetition penalty; 1 disables it."),
    TensorSpec(RETURN_LOG_PROBS, "TYPE_BOOL", (1,), True, "Fill cum_log_prob (candidate ranking)."),
    TensorSpec(LORA_PATH, "TYPE_STRING", (1,), True, "LoRA adapter, relative to lora_dir (engines.lora)."),
    TensorSpec(LORA_SCALE, "TYPE_FP32", (1,), True, "LoRA scale (llama.cpp), (0, 4]; default 1."),
    TensorSpec(LORA_TASK_ID, "TYPE_UINT64", (1,), True, "TensorRT-LLM LoRA cache id of the adapter."),
)

GENERATE_OUTPUTS: tuple[TensorSpec, ...] = (
    TensorSpec(TEXT_OUTPUT, "TYPE_STRING", (-1,), why="Streamed: this response's new text; else all of it."),
    TensorSpec(OUTPUT_TOKEN_COUNT, "TYPE_INT32", (1,), why="Tokens generated so far."),
    TensorSpec(INPUT_TOKEN_COUNT, "TYPE_INT32", (1,), why="Tokens in the prompt."),
    TensorSpec(CUM_LOG_PROB, "TYPE_FP32", (1,), why="Sum of generated tokens' log-probabilities, if asked."),
    TensorSpec(FINISH_REASON, "TYPE_STRING", (1,), why="On the last response: stop or length."),
)

TOKENIZE_INPUTS: tuple[TensorSpec, ...] = (
    TensorSpec(TEXT_INPUT, "TYPE_STRING", (1,), why="Text to count, UTF-8."),
)
TOKENIZE_OUTPUTS: tuple[TensorSpec, ...] = (
    TensorSpec(TOKEN_COUNT, "TYPE_INT32", (1,), why="Tokens the generating model would see."),
)

WIRE_TYPES = {"TYPE_STRING": "BYTES", "TYPE_INT32": "INT32", "TYPE_FP32": "FP32", "TYPE_UINT64": "UINT64",
              "TYPE_BOOL": "BOOL"}  # fmt: skip
"""Model-config data type -> the datatype a KServe v2 (gRPC) request names it by."""

GENERATE_INPUT_TYPES: Mapping[str, str] = {s.name: WIRE_TYPES[s.data_type] for s in GENERATE_INPUTS}
"""Input name of the ``seedcoder`` model -> its request datatype."""
TOKENIZE_INPUT_TYPES: Mapping[str, str] = {s.name: WIRE_TYPES[s.data_type] for s in TOKENIZE_INPUTS}
"""Input name of the ``seedcoder_tokenize`` model -> its request datatype."""


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
        (TEXT_OUTPUT, np.array([text.encode("utf-8")], dtype=np.object_)),
        (OUTPUT_TOKEN_COUNT, np.array([generated], dtype=np.int32)),
        (INPUT_TOKEN_COUNT, np.array([prompt_tokens], dtype=np.int32)),
    ]
    if finish is not None:
        arrays.append((FINISH_REASON, np.array([finish.encode()], dtype=np.object_)))
    if cum_log_prob is not None:
        arrays.append((CUM_LOG_PROB, np.array([cum_log_prob], dtype=np.float32)))
    return arrays

"""Triton Python-backend model ``seedcoder_tokenize``: counts a prompt's tokens.

Why: the gateway trims context to the engine's input budget, and only the model's
real tokenizer knows how many tokens a prompt is (docs/interfaces.md). Not
decoupled, one response per request. Two tokenizer kinds, chosen by the model
parameter ``tokenizer_kind``: ``gguf`` (the vocabulary of the GGUF file the
llama.cpp model serves, loaded without weights) and ``huggingface`` (the
``tokenizer.json`` saved beside a TensorRT-LLM engine). Both count what the
generating model sees: special-token text is parsed as special tokens and the
BOS token is included when the tokenizer adds one.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils


def _param(config: dict[str, Any], name: str) -> str:
    value = config.get("parameters", {}).get(name, {}).get("string_value")
    if not value:
        raise pb_utils.TritonModelException(f"model parameter {name!r} is required")
    return str(value)


def _gguf_counter(path: str) -> Callable[[str], int]:
    import llama_cpp

    llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
    return lambda text: len(llm.tokenize(text.encode("utf-8"), add_bos=True, special=True))


def _huggingface_counter(path: str) -> Callable[[str], int]:
    transformers = importlib.import_module("transformers")  # present in the TensorRT-LLM image
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    return lambda text: len(tokenizer.encode(text, add_special_tokens=True))


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        kind = _param(config, "tokenizer_kind")
        path = _param(config, "tokenizer_path")
        if kind == "gguf":
            self.count = _gguf_counter(path)
        elif kind == "huggingface":
            self.count = _huggingface_counter(path)
        else:
            raise pb_utils.TritonModelException(f"unknown tokenizer_kind {kind!r} (gguf or huggingface)")

    def _one(self, request: Any) -> Any:
        tensor = pb_utils.get_input_tensor_by_name(request, "text_input")
        if tensor is None:
            raise ValueError("text_input is required")
        flat = tensor.as_numpy().reshape(-1)
        if flat.size != 1:
            raise ValueError(f"text_input must hold exactly one value, got {flat.size}")
        try:
            text = bytes(flat[0]).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"text_input is not valid UTF-8 (byte {exc.start})") from None
        count = np.array([self.count(text)], dtype=np.int32)
        return pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("token_count", count)])

    def execute(self, requests: list[Any]) -> list[Any]:
        responses = []
        for request in requests:
            try:
                responses.append(self._one(request))
            except (ValueError, TypeError) as exc:
                error = pb_utils.TritonError(str(exc), pb_utils.TritonError.INVALID_ARG)
                responses.append(pb_utils.InferenceResponse(error=error))
        return responses

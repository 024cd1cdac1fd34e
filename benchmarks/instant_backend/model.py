"""BENCHMARK ONLY: a load-free Triton Python-backend ``seedcoder`` model that "generates" instantly.

Why: the gateway benchmark (``benchmarks/gateway_bench.py``) needs a backend whose
own time is close to zero, so that the difference "through the gateway" minus
"straight to Triton" is the gateway's cost and not queueing inside a real model.
This is NOT a model: it ignores the prompt and emits fixed, deterministic text.
No test and no product path uses it; only the benchmark writes it into a
temporary model repository.

Contract: the same tensors as the real ``seedcoder`` models (docs/interfaces.md,
``seedcoder.engines.contract``), decoupled, and the same response sequence as the
llama.cpp model (``engines/triton/llamacpp/model.py``): requests are checked with
the shared ``parse_request`` (bad ones get INVALID_ARG), the token loop is the
shared ``TokenLoop`` (stop words honoured), streamed tokens go one response each, and the
last token rides on the final response, which carries ``finish_reason``
(``length`` or ``stop``). ``cum_log_prob`` is a fixed -0.1 per token when asked.
``input_token_count`` is a stand-in (UTF-8 bytes / 4, at least 1), not a real
tokenizer's count.
"""

from __future__ import annotations

import json
from typing import Any

import triton_python_backend_utils as pb_utils
from seedcoder.engines.contract import output_arrays
from seedcoder.engines.request import RequestError, parse_request
from seedcoder.engines.textstream import TokenLoop

FINAL = pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL
# Deterministic "tokens", cycled; plain ASCII so every token is a complete UTF-8 piece.
TOKENS = (b"return", b" sorted", b"(items", b")", b"\n", b"    ", b"#", b" done")
LOG_PROB_PER_TOKEN = -0.1


class TritonPythonModel:
    """Answers every request at once from ``execute``; nothing is queued or computed."""

    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        limit = config.get("parameters", {}).get("max_tokens_limit", {}).get("string_value", "512")
        self.max_tokens_limit = int(limit)

    def _response(self, text: str, generated: int, prompt_tokens: int, finish: str | None, logp: Any) -> Any:
        arrays = output_arrays(text, generated, prompt_tokens, finish, logp)
        return pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor(n, a) for n, a in arrays])

    def execute(self, requests: list[Any]) -> None:
        for request in requests:
            sender = request.get_response_sender()
            try:
                self._serve(request, sender)
            except RequestError as exc:
                error = pb_utils.TritonError(str(exc), pb_utils.TritonError.INVALID_ARG)
                sender.send(pb_utils.InferenceResponse(error=error), flags=FINAL)
            except Exception as exc:  # never let one request take the stub down
                error = pb_utils.TritonError(f"instant backend failed: {exc}", pb_utils.TritonError.INTERNAL)
                sender.send(pb_utils.InferenceResponse(error=error), flags=FINAL)
        return None

    def _serve(self, request: Any, sender: Any) -> None:
        def get(name: str) -> Any:
            tensor = pb_utils.get_input_tensor_by_name(request, name)
            return None if tensor is None else tensor.as_numpy()

        req = parse_request(get, max_tokens_limit=self.max_tokens_limit)
        prompt_tokens = max(1, len(req.prompt.encode("utf-8")) // 4)
        loop = TokenLoop(req.stop_words, req.max_tokens, req.stream)
        for i in range(req.max_tokens):
            if sender.is_cancelled():
                error = pb_utils.TritonError("request cancelled", pb_utils.TritonError.CANCELLED)
                sender.send(pb_utils.InferenceResponse(error=error), flags=FINAL)
                return
            delta = loop.add(TOKENS[i % len(TOKENS)])
            if loop.done:
                break
            if delta:
                sender.send(self._response(delta, loop.generated, prompt_tokens, None, None))
        text, generated, finish = loop.final_text(), loop.generated, loop.finish
        logp = LOG_PROB_PER_TOKEN * generated if req.return_log_probs else None
        sender.send(self._response(text, generated, prompt_tokens, finish, logp), flags=FINAL)

"""Triton Python-backend model ``seedcoder`` in front of a TensorRT-LLM engine (BLS).

Why: the gateway's text interface (docs/interfaces.md) wants token counts, stop
strings excluded from the output and a finish reason, which NVIDIA's ensemble does
not return. This model tokenises with the Seed-Coder tokenizer saved beside the
engine, streams from the ``tensorrt_llm`` model, decodes the accumulated tokens
(so a character split across tokens is never sent half), holds back text that may
still become a stop string, and answers in the contract's tensors.

Concurrency: ``execute`` hands each request to a thread pool and returns at once
(decoupled models may answer from any thread); ``concurrency`` threads keep the
engine's in-flight batch full. Cancellation: checked on every engine response; a
cancelled request cancels its engine request, which frees its batch slot.

NOT EXECUTED HERE: it needs a GPU and the TensorRT-LLM Triton image. Its request
and text rules are the package's pure, tested modules, shared with the llama.cpp
model that the tests run on the real Triton.

LoRA (engines built with the LoRA plugin): a request naming ``lora_path`` and
``lora_task_id`` runs with that adapter. The first request of a task id carries
the adapter's weights (``lora_weights`` + ``lora_config``, read from
``<lora_dir>/<lora_path>/``); later ones carry only the id, which TensorRT-LLM
finds in its LoRA cache. When the engine reports the task missing from its cache
(evicted), the request is sent once more with the weights.
"""

from __future__ import annotations

import importlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils
from seedcoder.engines.contract import output_arrays
from seedcoder.engines.lora import (
    LoraRequest,
    TaskIds,
    is_cache_miss,
    load_trtllm_weights,
    parse_lora,
    resolve,
)
from seedcoder.engines.request import GenerationRequest, RequestError, parse_request
from seedcoder.engines.textstream import StopMatcher

FINAL = pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL


def _param(config: dict[str, Any], name: str) -> str:
    value = config.get("parameters", {}).get(name, {}).get("string_value")
    if not value:
        raise pb_utils.TritonModelException(f"model parameter {name!r} is required")
    return str(value)


def _t(name: str, value: Any, dtype: Any) -> Any:
    return pb_utils.Tensor(name, np.array(value, dtype=dtype))


def stop_words_tensor(token_lists: list[list[int]]) -> Any:
    """TensorRT-LLM's [1, 2, L] layout: flattened ids, then end offsets padded with -1."""
    flat = [t for ids in token_lists for t in ids]
    offsets = list(np.cumsum([len(ids) for ids in token_lists]))
    width = max(len(flat), len(offsets), 1)
    ids_row = flat + [0] * (width - len(flat))
    off_row = offsets + [-1] * (width - len(offsets))
    return np.array([[ids_row, off_row]], dtype=np.int32)


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        transformers = importlib.import_module("transformers")  # present in the TensorRT-LLM image
        config = json.loads(args["model_config"])
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(_param(config, "tokenizer_dir"))
        self.end_id = int(self.tokenizer.eos_token_id)
        pad = self.tokenizer.pad_token_id
        self.pad_id = int(pad) if pad is not None else self.end_id
        self.max_tokens_limit = int(_param(config, "max_tokens_limit"))
        self.max_input_len = int(_param(config, "max_input_len"))
        self.trtllm_model = _param(config, "trtllm_model")
        self.pool = ThreadPoolExecutor(max_workers=int(_param(config, "concurrency")))
        params = config.get("parameters", {})
        self.lora_dir = str(params.get("lora_dir", {}).get("string_value", ""))
        self.lora_dtype = str(params.get("lora_weights_dtype", {}).get("string_value", "float16"))
        self.tasks = TaskIds(max_known=1024)
        self.tasks_lock = threading.Lock()

    def execute(self, requests: list[Any]) -> None:
        for request in requests:
            self.pool.submit(self._serve, request)
        return None

    def _serve(self, request: Any) -> None:
        sender = request.get_response_sender()
        try:
            self._generate(request, sender)
        except RequestError as exc:
            err = pb_utils.TritonError(str(exc), pb_utils.TritonError.INVALID_ARG)
            sender.send(pb_utils.InferenceResponse(error=err), flags=FINAL)
        except Exception as exc:  # one request never takes the model down
            pb_utils.Logger.log_error(f"seedcoder BLS request failed: {exc!r}")
            err = pb_utils.TritonError(f"generation failed: {exc}", pb_utils.TritonError.INTERNAL)
            sender.send(pb_utils.InferenceResponse(error=err), flags=FINAL)

    def _lora_tensors(self, lora: LoraRequest, with_weights: bool) -> list[Any]:
        if lora.task_id is None:
            raise RequestError("a TensorRT-LLM adapter needs lora_task_id")
        tensors = [_t("lora_task_id", [[lora.task_id]], np.uint64)]
        if with_weights:
            weights, config = load_trtllm_weights(resolve(self.lora_dir, lora.path))
            tensors.append(_t("lora_config", config, np.int32))
            if self.lora_dtype == "bfloat16":  # numpy has no bfloat16: hand Triton a torch tensor
                torch = importlib.import_module("torch")
                t = torch.from_numpy(weights.astype(np.float32)).to(torch.bfloat16)
                tensors.append(pb_utils.Tensor.from_dlpack("lora_weights", torch.utils.dlpack.to_dlpack(t)))
            else:
                tensors.append(_t("lora_weights", weights, np.float16))
        return tensors

    def _needs_weights(self, lora: LoraRequest) -> bool:
        with self.tasks_lock:
            return lora.task_id is not None and self.tasks.needs_weights(lora.task_id, lora.path)

    def _engine_request(
        self, req: GenerationRequest, ids: list[int], lora: LoraRequest | None = None, weights: bool = False
    ) -> Any:
        inputs = [
            _t("input_ids", [ids], np.int32),
            _t("input_lengths", [[len(ids)]], np.int32),
            _t("request_output_len", [[req.max_tokens]], np.int32),
            _t("end_id", [[self.end_id]], np.int32),
            _t("pad_id", [[self.pad_id]], np.int32),
            _t("streaming", [[True]], np.bool_),
            _t("temperature", [[req.temperature]], np.float32),
            _t("runtime_top_k", [[req.top_k if req.temperature > 0 else 1]], np.int32),
            _t("runtime_top_p", [[req.top_p]], np.float32),
            _t("return_log_probs", [[req.return_log_probs]], np.bool_),
        ]
        if req.seed is not None:
            inputs.append(_t("seed", [[req.seed]], np.uint64))
        if req.repetition_penalty != 1.0:
            inputs.append(_t("repetition_penalty", [[req.repetition_penalty]], np.float32))
        if req.min_p != 0.0:
            raise RequestError("min_p is not supported by the TensorRT-LLM runtime")
        if req.stop_words:
            lists = [self.tokenizer.encode(s, add_special_tokens=False) for s in req.stop_words]
            inputs.append(pb_utils.Tensor("stop_words_list", stop_words_tensor([x for x in lists if x])))
        if lora is not None:
            inputs.extend(self._lora_tensors(lora, weights))
        return pb_utils.InferenceRequest(
            model_name=self.trtllm_model,
            inputs=inputs,
            requested_output_names=["output_ids", "sequence_length", "cum_log_probs"],
        )

    def _generate(self, request: Any, sender: Any) -> None:
        def get(name: str) -> Any:
            tensor = pb_utils.get_input_tensor_by_name(request, name)
            return None if tensor is None else tensor.as_numpy()

        req = parse_request(get, max_tokens_limit=self.max_tokens_limit)
        lora = parse_lora(get)
        ids = self.tokenizer.encode(req.prompt, add_special_tokens=True)
        if len(ids) > self.max_input_len:
            raise RequestError(
                f"prompt has {len(ids)} tokens; the engine accepts at most {self.max_input_len}"
            )
        stops = StopMatcher(req.stop_words)
        tokens: list[int] = []
        shown = ""  # decoded text already passed to the stop matcher
        pending: list[str] = []
        cum_log_prob = 0.0
        weights = lora is not None and self._needs_weights(lora)
        live = [self._engine_request(req, ids, lora, weights).exec(decoupled=True)]  # the stream to cancel
        for response in self._with_retry(live, req, ids, lora, weights):
            if sender.is_cancelled():
                cancel = getattr(live[0], "cancel", None)
                if cancel is not None:
                    cancel()
                err = pb_utils.TritonError("request cancelled", pb_utils.TritonError.CANCELLED)
                sender.send(pb_utils.InferenceResponse(error=err), flags=FINAL)
                return
            if response.has_error():
                raise RuntimeError(response.error().message())
            out = pb_utils.get_output_tensor_by_name(response, "output_ids")
            if out is None:  # the engine's empty final response
                continue
            length = int(
                pb_utils.get_output_tensor_by_name(response, "sequence_length").as_numpy().reshape(-1)[0]
            )
            tokens.extend(int(t) for t in out.as_numpy().reshape(-1)[:length])
            lp = pb_utils.get_output_tensor_by_name(response, "cum_log_probs")
            if lp is not None:
                cum_log_prob = float(lp.as_numpy().reshape(-1)[0])
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            if text.endswith("\ufffd"):  # a character still incomplete: wait for its next token
                continue
            delta = stops.feed(text[len(shown) :])
            shown = text
            if stops.stopped:
                pending.append(delta)
                cancel = getattr(live[0], "cancel", None)
                if cancel is not None:
                    cancel()
                break
            if req.stream and delta:
                sender.send(self._response(delta, len(tokens), len(ids)))
            else:
                pending.append(delta)
        pending.append(stops.flush())
        finish = "stop" if stops.stopped or len(tokens) < req.max_tokens else "length"
        final = self._response(
            "".join(pending), len(tokens), len(ids), finish, cum_log_prob if req.return_log_probs else None
        )
        sender.send(final, flags=FINAL)

    def _with_retry(
        self, live: list[Any], req: GenerationRequest, ids: list[int], lora: LoraRequest | None, weights: bool
    ) -> Any:
        """The engine's responses; a LoRA cache miss on the first response is retried once with the weights.

        ``live[0]`` is always the engine stream being read (what a cancellation must reach). A task
        id counts as known once its weights were sent; a later miss (evicted) sends them again."""
        if lora is not None and lora.task_id is not None and weights:
            self._sent(lora)
        first = True
        for response in live[0]:
            miss = response.has_error() and is_cache_miss(response.error().message())
            if first and miss and lora is not None and lora.task_id is not None and not weights:
                live[0] = self._engine_request(req, ids, lora, True).exec(decoupled=True)
                self._sent(lora)
                yield from live[0]
                return
            first = False
            yield response

    def _sent(self, lora: LoraRequest) -> None:
        assert lora.task_id is not None
        with self.tasks_lock:
            self.tasks.sent(lora.task_id, lora.path)

    @staticmethod
    def _response(
        text: str, generated: int, prompt: int, finish: str | None = None, cum_log_prob: float | None = None
    ) -> Any:
        arrays = output_arrays(text, generated, prompt, finish, cum_log_prob)
        return pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor(n, a) for n, a in arrays])

    def finalize(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

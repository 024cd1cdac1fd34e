"""The backend protocol and its Triton implementation (gRPC streaming), with timeouts.

Why a protocol: the service layer only needs "generate a stream of chunks",
"count tokens" and "are you ready"; keeping Triton's tensor contract (see
docs/interfaces.md) in this module and ``tensors`` means the service never
touches protobufs or gRPC. Every call has an explicit timeout: each streamed
response must arrive within ``timeout_s`` of the previous one, and unary calls
carry a gRPC deadline.

Cancellation: each generation is its own gRPC stream; closing the generator
(client disconnect, a stop found by the gateway, an error) cancels the call,
and Triton cancels the request inside the model.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc
from tritonclient.grpc import service_pb2, service_pb2_grpc

from seedcoder.gateway.tensors import Tensor, build_request, decode_outputs, is_final

_MAX_MSG = 64 * 1024 * 1024
_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class LoraSelection:
    """The LoRA adapter one request runs with, as its pool's Triton model is told (docs/interfaces.md)."""

    name: str
    path: str  # relative to the model's lora_dir: a GGUF file, or the TensorRT-LLM weights folder
    scale: float = 1.0
    task_id: int | None = None  # TensorRT-LLM's LoRA cache id


@dataclass(frozen=True, slots=True)
class GenParams:
    """One generation, as the model sees it."""

    prompt: str
    max_tokens: int
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None
    stop: list[str] = field(default_factory=list)
    log_probs: bool = False
    lora: LoraSelection | None = None


@dataclass(frozen=True, slots=True)
class Chunk:
    """One streamed response: the new text and the counters so far."""

    text: str
    output_tokens: int | None
    input_tokens: int | None
    cum_log_prob: float | None
    finish_reason: str | None
    final: bool


class Backend(Protocol):
    name: str

    def generate(self, params: GenParams) -> AsyncGenerator[Chunk, None]: ...

    async def count_tokens(self, text: str) -> int: ...

    async def ready(self) -> bool: ...

    async def close(self) -> None: ...


def _tensors(p: GenParams) -> list[Tensor]:
    ts = [
        Tensor("text_input", "BYTES", [p.prompt.encode("utf-8")]),
        Tensor("max_tokens", "INT32", p.max_tokens),
        Tensor("stream", "BOOL", True),
    ]
    if p.stop:
        ts.append(Tensor("stop_words", "BYTES", [s.encode("utf-8") for s in p.stop]))
    if p.temperature is not None:
        ts.append(Tensor("temperature", "FP32", p.temperature))
    if p.top_p is not None:
        ts.append(Tensor("top_p", "FP32", p.top_p))
    if p.top_k is not None:
        ts.append(Tensor("top_k", "INT32", p.top_k))
    if p.seed is not None:
        ts.append(Tensor("seed", "UINT64", p.seed))
    if p.min_p is not None:
        ts.append(Tensor("min_p", "FP32", p.min_p))
    if p.repetition_penalty is not None:
        ts.append(Tensor("repetition_penalty", "FP32", p.repetition_penalty))
    if p.log_probs:
        ts.append(Tensor("return_log_probs", "BOOL", True))
    if p.lora is not None:
        ts.append(Tensor("lora_path", "BYTES", [p.lora.path.encode("utf-8")]))
        if p.lora.scale != 1.0:
            ts.append(Tensor("lora_scale", "FP32", p.lora.scale))
        if p.lora.task_id is not None:
            ts.append(Tensor("lora_task_id", "UINT64", p.lora.task_id))
    return ts


def _chunk(resp: service_pb2.ModelInferResponse) -> Chunk:
    out = decode_outputs(resp)
    texts = out.get("text_output") or []
    reason = out.get("finish_reason")
    reason_s = reason[0].decode("utf-8", "replace") if isinstance(reason, list) and reason else None
    tokens = out.get("output_token_count")
    return Chunk(
        text="".join(t.decode("utf-8", "replace") for t in texts),
        output_tokens=int(tokens) if tokens is not None else None,
        input_tokens=int(out["input_token_count"]) if "input_token_count" in out else None,
        cum_log_prob=float(out["cum_log_prob"]) if "cum_log_prob" in out else None,
        finish_reason=reason_s or None,
        final=is_final(resp),
    )


class TritonBackend:
    """A pool's Triton, reached over one gRPC channel."""

    def __init__(self, name: str, url: str, model: str, tokenize_model: str, timeout_s: float) -> None:
        self.name = name
        self.url = url
        self._model = model
        self._tokenize_model = tokenize_model
        self._timeout = timeout_s
        self._batched: dict[str, bool] = {}
        self._channel = grpc.aio.insecure_channel(
            url,
            options=[
                ("grpc.max_send_message_length", _MAX_MSG),
                ("grpc.max_receive_message_length", _MAX_MSG),
                ("grpc.keepalive_time_ms", 10_000),
                ("grpc.keepalive_timeout_ms", 5_000),
                ("grpc.initial_reconnect_backoff_ms", 200),
                ("grpc.min_reconnect_backoff_ms", 200),
                ("grpc.max_reconnect_backoff_ms", 1_000),
            ],
        )
        self._stub = service_pb2_grpc.GRPCInferenceServiceStub(self._channel)

    async def _batched_model(self, model: str) -> bool:
        """Whether ``model`` takes a leading batch dimension (read once from its config)."""
        known = self._batched.get(model)
        if known is None:
            cfg = await self._stub.ModelConfig(
                service_pb2.ModelConfigRequest(name=model), timeout=self._timeout
            )
            known = self._batched[model] = cfg.config.max_batch_size > 0
        return known

    async def generate(self, params: GenParams) -> AsyncGenerator[Chunk, None]:
        batched = await self._batched_model(self._model)
        request = build_request(self._model, str(next(_ids)), _tensors(params), batched, empty_final=True)
        done = asyncio.Event()

        async def requests() -> AsyncIterator[service_pb2.ModelInferRequest]:
            yield request
            await done.wait()  # half-closing early is not needed; close once the answer is complete

        call: Any = self._stub.ModelStreamInfer(requests())
        finished = False
        try:
            while True:
                async with asyncio.timeout(self._timeout):
                    msg = await call.read()
                if msg is grpc.aio.EOF:
                    raise ConnectionError("Triton closed the stream before the final response")
                if msg.error_message:
                    raise RuntimeError(f"Triton: {msg.error_message}")
                chunk = _chunk(msg.infer_response)
                finished = chunk.final
                yield chunk
                if finished:
                    return
        finally:
            done.set()
            if not finished:
                call.cancel()

    async def count_tokens(self, text: str) -> int:
        batched = await self._batched_model(self._tokenize_model)
        tensors = [Tensor("text_input", "BYTES", [text.encode("utf-8")])]
        req = build_request(self._tokenize_model, "", tensors, batched, False)
        resp = await self._stub.ModelInfer(req, timeout=self._timeout)
        count = decode_outputs(resp).get("token_count")
        if count is None:
            raise RuntimeError("Triton: tokenizer model returned no token_count")
        return int(count)

    async def ready(self) -> bool:
        resp = await self._stub.ModelReady(
            service_pb2.ModelReadyRequest(name=self._model), timeout=min(self._timeout, 2.0)
        )
        return bool(resp.ready)

    async def close(self) -> None:
        await self._channel.close()

"""A small synchronous gRPC streaming helper for the engine tests (tritonclient)."""

from __future__ import annotations

import queue
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient


@dataclass
class Reply:
    text: str = ""
    output_token_count: int | None = None
    input_token_count: int | None = None
    finish_reason: str | None = None
    cum_log_prob: float | None = None
    final: bool = False
    error: str | None = None
    at: float = 0.0


@dataclass
class Stream:
    replies: list[Reply] = field(default_factory=list)
    started: float = 0.0

    @property
    def text(self) -> str:
        return "".join(r.text for r in self.replies)

    @property
    def last(self) -> Reply:
        return self.replies[-1]


def make_inputs(
    prompt: bytes | str | None = "def add(a, b):\n",
    max_tokens: Any = 16,
    *,
    stream: bool | None = True,
    stop_words: list[str] | None = None,
    temperature: float | None = 0.0,
    return_log_probs: bool | None = None,
    max_tokens_dtype: str = "INT32",
) -> list[grpcclient.InferInput]:
    inputs = []

    def add(name: str, value: np.ndarray, dtype: str) -> None:
        tensor = grpcclient.InferInput(name, list(value.shape), dtype)
        tensor.set_data_from_numpy(value)
        inputs.append(tensor)

    if prompt is not None:
        raw = prompt.encode() if isinstance(prompt, str) else prompt
        add("text_input", np.array([raw], dtype=np.object_), "BYTES")
    if max_tokens is not None:
        np_type = {"INT32": np.int32, "FP32": np.float32, "INT64": np.int64}[max_tokens_dtype]
        add("max_tokens", np.array([max_tokens], dtype=np_type), max_tokens_dtype)
    if stream is not None:
        add("stream", np.array([stream], dtype=np.bool_), "BOOL")
    if stop_words is not None:
        add("stop_words", np.array([s.encode() for s in stop_words], dtype=np.object_), "BYTES")
    if temperature is not None:
        add("temperature", np.array([temperature], dtype=np.float32), "FP32")
    if return_log_probs is not None:
        add("return_log_probs", np.array([return_log_probs], dtype=np.bool_), "BOOL")
    return inputs


def _reply(result: Any, error: Any) -> Reply:
    now = time.monotonic()
    if error is not None:
        return Reply(error=str(error), final=True, at=now)

    def scalar(name: str) -> Any:
        arr = result.as_numpy(name)
        return None if arr is None else arr.reshape(-1)[0]

    text = scalar("text_output")
    finish = scalar("finish_reason")
    params = result.get_response().parameters
    final = "triton_final_response" in params and params["triton_final_response"].bool_param
    return Reply(
        text=text.decode() if text is not None else "",
        output_token_count=None
        if scalar("output_token_count") is None
        else int(scalar("output_token_count")),
        input_token_count=None if scalar("input_token_count") is None else int(scalar("input_token_count")),
        finish_reason=finish.decode() if finish is not None else None,
        cum_log_prob=None if scalar("cum_log_prob") is None else float(scalar("cum_log_prob")),
        final=final,
        at=now,
    )


class StreamingClient:
    """One gRPC stream; ``generate`` sends a request and collects replies up to the final one."""

    def __init__(self, url: str) -> None:
        self.client = grpcclient.InferenceServerClient(url)
        self.replies: queue.Queue[Reply] = queue.Queue()
        self.client.start_stream(callback=lambda result, error: self.replies.put(_reply(result, error)))

    def send(self, inputs: list[grpcclient.InferInput], model: str = "seedcoder") -> float:
        started = time.monotonic()
        self.client.async_stream_infer(model, inputs, enable_empty_final_response=True)
        return started

    def collect(self, started: float, timeout: float = 120.0) -> Stream:
        out = Stream(started=started)
        deadline = time.monotonic() + timeout
        while True:
            reply = self.replies.get(timeout=max(0.1, deadline - time.monotonic()))
            out.replies.append(reply)
            if reply.final:
                return out

    def generate(self, inputs: list[grpcclient.InferInput], timeout: float = 120.0) -> Stream:
        return self.collect(self.send(inputs), timeout)

    def cancel(self) -> None:
        self.client.stop_stream(cancel_requests=True)

    def close(self) -> None:
        self.client.stop_stream()
        self.client.close()


def scrape(metrics_url: str) -> dict[str, float]:
    """``name{labels}`` -> value from Triton's /metrics."""
    with urllib.request.urlopen(metrics_url, timeout=5) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def metric(metrics: dict[str, float], name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for key, value in metrics.items():
        base, _, rest = key.partition("{")
        if base == name and all(f'{k}="{v}"' in rest for k, v in labels.items()):
            total += value
    return total


def wait_for_metric(
    metrics_url: str, name: str, expected: float, timeout: float = 10.0, **labels: str
) -> float:
    """Poll until ``name`` reaches ``expected`` (Triton counts a request after its final response)."""
    deadline = time.monotonic() + timeout
    while True:
        value = metric(scrape(metrics_url), name, **labels)
        if value >= expected or time.monotonic() > deadline:
            return value
        time.sleep(0.1)

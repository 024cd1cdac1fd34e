"""Validating one generation request against the Triton tensor contract.

Why: both runtimes' Triton models (llama.cpp and the TensorRT-LLM BLS model) must
refuse the same bad inputs with the same clear messages, and never crash the
server on them. This module is pure (numpy arrays in, a typed request or a
:class:`RequestError` out), so the rules are unit-tested without a server; the
models turn a :class:`RequestError` into a ``TritonError(INVALID_ARG)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Getter = Callable[[str], "npt.NDArray[np.generic] | None"]
"""Returns the named input tensor as numpy, or None when the request does not carry it."""


class RequestError(ValueError):
    """A request the model refuses; the message is sent back to the client."""


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    max_tokens: int
    stream: bool = False
    stop_words: tuple[str, ...] = ()
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int | None = None
    return_log_probs: bool = False
    min_p: float = 0.0
    repetition_penalty: float = 1.0


def text_value(value: object, name: str) -> str:
    """A BYTES element as text; raises :class:`RequestError` naming the input."""
    if isinstance(value, bytes | np.bytes_):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RequestError(f"{name} is not valid UTF-8 (byte {exc.start})") from None
    if isinstance(value, str):
        return value
    raise RequestError(f"{name} must be BYTES (UTF-8 text), got {type(value).__name__}")


def one_input(get: Getter, name: str, kind: str) -> npt.NDArray[np.generic] | None:
    """The named input as a one-element flat array of ``kind`` (int, float, bool, bytes), or None."""
    arr = get(name)
    if arr is None:
        return None
    flat = np.asarray(arr).reshape(-1)
    if flat.size != 1:
        raise RequestError(f"{name} must hold exactly one value, got {flat.size}")
    ok = {
        "int": np.issubdtype(flat.dtype, np.integer),
        "float": np.issubdtype(flat.dtype, np.floating),
        "bool": flat.dtype == np.bool_,
        "bytes": flat.dtype == np.object_ or flat.dtype.kind == "S",
    }[kind]
    if not ok:
        raise RequestError(f"{name} has the wrong data type {flat.dtype}")
    return flat


def _int(get: Getter, name: str, default: int | None) -> int | None:
    flat = one_input(get, name, "int")
    return default if flat is None else int(flat.astype(np.int64)[0])


def _float(get: Getter, name: str, default: float) -> float:
    flat = one_input(get, name, "float")
    return default if flat is None else float(flat.astype(np.float64)[0])


def _bool(get: Getter, name: str) -> bool:
    flat = one_input(get, name, "bool")
    return False if flat is None else bool(flat[0])


def parse_request(get: Getter, *, max_tokens_limit: int) -> GenerationRequest:
    """Read and check every input; raises :class:`RequestError` naming the bad one."""
    raw_prompt = one_input(get, "text_input", "bytes")
    if raw_prompt is None:
        raise RequestError("text_input is required")
    prompt = text_value(raw_prompt[0], "text_input")
    if not prompt:
        raise RequestError("text_input is empty")

    max_tokens = _int(get, "max_tokens", None)
    if max_tokens is None:
        raise RequestError("max_tokens is required")
    if not 1 <= max_tokens <= max_tokens_limit:
        raise RequestError(f"max_tokens must be between 1 and {max_tokens_limit}, got {max_tokens}")

    stops: tuple[str, ...] = ()
    stop_arr = get("stop_words")
    if stop_arr is not None:
        flat = np.asarray(stop_arr).reshape(-1)
        if not (flat.dtype == np.object_ or flat.dtype.kind == "S"):
            raise RequestError(f"stop_words has the wrong data type {flat.dtype}")
        stops = tuple(s for s in (text_value(v, "stop_words") for v in flat) if s)

    seed = _int(get, "seed", None)
    req = GenerationRequest(
        prompt=prompt,
        max_tokens=max_tokens,
        stream=_bool(get, "stream"),
        stop_words=stops,
        temperature=_float(get, "temperature", 0.0),
        top_p=_float(get, "top_p", 1.0),
        top_k=_int(get, "top_k", 0) or 0,
        seed=seed,
        return_log_probs=_bool(get, "return_log_probs"),
        min_p=_float(get, "min_p", 0.0),
        repetition_penalty=_float(get, "repetition_penalty", 1.0),
    )
    if not (np.isfinite(req.temperature) and req.temperature >= 0):
        raise RequestError(f"temperature must be >= 0, got {req.temperature}")
    if not (np.isfinite(req.top_p) and 0 < req.top_p <= 1):
        raise RequestError(f"top_p must be in (0, 1], got {req.top_p}")
    if req.top_k < 0:
        raise RequestError(f"top_k must be >= 0, got {req.top_k}")
    if not (np.isfinite(req.min_p) and 0 <= req.min_p <= 1):
        raise RequestError(f"min_p must be in [0, 1], got {req.min_p}")
    if not (np.isfinite(req.repetition_penalty) and req.repetition_penalty > 0):
        raise RequestError(f"repetition_penalty must be > 0, got {req.repetition_penalty}")
    return req

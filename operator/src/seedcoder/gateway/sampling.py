"""Which sampling fields each serving runtime honours, and the 400 for those it does not.

Why: self-hosted clients send vLLM's and llama.cpp's sampling extensions
(``top_k``, ``min_p``, ``repetition_penalty`` / ``repeat_penalty``, ``seed``).
Silently dropping one would change what the user asked for, so a field is
accepted only when every pool the request may be routed to has a runtime that
applies it; otherwise the answer is a 400 that names the field and the pool.
A field set to its neutral value (the one that changes nothing) is always
accepted.

The table mirrors the Triton models (docs/interfaces.md): the llama.cpp model
passes all four to llama.cpp's sampler; the TensorRT-LLM BLS model passes
``top_k``, ``repetition_penalty`` and ``seed`` to the ``tensorrt_llm`` backend,
which has no min-p sampler (``runtime_top_p_min`` is a different thing).
"""

from __future__ import annotations

from collections.abc import Mapping

from seedcoder.api.gateway_config import GatewayConfig
from seedcoder.gateway.errors import InvalidRequest

SAMPLING_BY_RUNTIME: Mapping[str, frozenset[str]] = {
    "llamacpp": frozenset({"top_k", "min_p", "repetition_penalty", "seed"}),
    "tensorrt-llm": frozenset({"top_k", "repetition_penalty", "seed"}),
}

_CANONICAL = {"repeat_penalty": "repetition_penalty"}
_NEUTRAL: Mapping[str, tuple[float, ...]] = {
    "top_k": (0, -1),
    "min_p": (0,),
    "repetition_penalty": (1,),
}


def check_sampling(cfg: GatewayConfig, fields: Mapping[str, float | int | None]) -> None:
    """Raise a 400 naming the first field (as the client spelled it) that a pool's runtime ignores."""
    for name, value in fields.items():
        if value is None:
            continue
        field = _CANONICAL.get(name, name)
        if value in _NEUTRAL.get(field, ()):
            continue
        for pool in cfg.pools:
            if field not in SAMPLING_BY_RUNTIME.get(pool.runtime, frozenset()):
                raise InvalidRequest(
                    f"'{name}' is not supported by the {pool.runtime} runtime of pool '{pool.name}'; "
                    "omit it or send its neutral value",
                    param=name,
                    code="unsupported_parameter",
                )

"""The bodies of llama.cpp's ``/infill`` answers, as llama.vscode reads them.

Why apart from the routes: llama.cpp's server answers with more than the text
(``stop_type``, ``tokens_cached``, ``truncated``, ``timings``), and llama.vscode
shows the timings and relies on ``n_predict: 0`` warm-ups being cheap. These
builders are pure, so their shape is tested without a server.

``tokens_cached`` is llama.cpp's ``n_past``: the tokens of this request (prompt
and generated) held in the slot's cache when the answer was sent. ``timings``
split the wall time at the first token: before it is the prompt, after it the
prediction.
"""

from __future__ import annotations

from typing import Any


def _rate(n: int, ms: float) -> float:
    return round(n * 1000.0 / ms, 3) if ms > 0 and n > 0 else 0.0


def timings(prompt_n: int, predicted_n: int, first_token_s: float | None, total_s: float) -> dict[str, Any]:
    first = total_s if first_token_s is None else min(first_token_s, total_s)
    prompt_ms, predicted_ms = first * 1000.0, max(total_s - first, 0.0) * 1000.0
    return {
        "prompt_n": prompt_n,
        "prompt_ms": round(prompt_ms, 3),
        "prompt_per_token_ms": round(prompt_ms / prompt_n, 3) if prompt_n else 0.0,
        "prompt_per_second": _rate(prompt_n, prompt_ms),
        "predicted_n": predicted_n,
        "predicted_ms": round(predicted_ms, 3),
        "predicted_per_token_ms": round(predicted_ms / predicted_n, 3) if predicted_n else 0.0,
        "predicted_per_second": _rate(predicted_n, predicted_ms),
    }


def infill_final(
    r_id: str,
    model: str,
    text: str,
    reason: str,
    prompt: int,
    out: int,
    trimmed: int,
    first_token_s: float | None,
    total_s: float,
) -> dict[str, Any]:
    """The last (or only) ``/infill`` answer of a request."""
    return {
        "id": r_id,
        "content": text,
        "stop": True,
        "model": model,
        "stop_type": "limit" if reason == "length" else "eos",
        "tokens_predicted": out,
        "tokens_evaluated": prompt,
        "tokens_cached": prompt + out,
        "truncated": trimmed > 0,
        "tokens_trimmed": trimmed,
        "timings": timings(prompt, out, first_token_s, total_s),
    }


def warmup(r_id: str, model: str, total_s: float) -> dict[str, Any]:
    """The answer to ``n_predict: 0``: nothing generated, nothing evaluated here.

    llama.cpp fills its slot's cache with such a request; a Triton pool keeps no
    cache between requests, so the gateway answers at once and the model does no work.
    """
    return {
        "id": r_id,
        "content": "",
        "stop": True,
        "model": model,
        "stop_type": "limit",
        "tokens_predicted": 0,
        "tokens_evaluated": 0,
        "tokens_cached": 0,
        "truncated": False,
        "tokens_trimmed": 0,
        "timings": timings(0, 0, None, total_s),
    }

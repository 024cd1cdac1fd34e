"""The rules real IDE clients need, as pure code: limits clamped, sampling fields per runtime,
llama.cpp's ``n_indent`` cut and ``/infill`` answer shape (the real-server tests are in
``test_ide_clients.py``)."""

from __future__ import annotations

import pytest
from seedcoder.api.gateway_config import GatewayConfig, PoolEndpoint
from seedcoder.engines import contract, trtllm_repo
from seedcoder.gateway import llamacpp_wire
from seedcoder.gateway.cuts import IndentLimit, text_cut
from seedcoder.gateway.errors import InvalidRequest
from seedcoder.gateway.jobs import from_completion, from_infill
from seedcoder.gateway.protocol import CompletionRequest, InfillRequest
from seedcoder.gateway.sampling import SAMPLING_BY_RUNTIME

CPU = PoolEndpoint(name="cpu", grpc_url="x:1", gpu="CPU", runtime="llamacpp")
H100 = PoolEndpoint(name="h100", grpc_url="y:1", gpu="H100", runtime="tensorrt-llm")
LLAMACPP = GatewayConfig(model_name="seed", pools=[CPU], max_output_tokens=256)
MIXED = GatewayConfig(model_name="seed", pools=[CPU, H100], max_output_tokens=256)


def completion(cfg: GatewayConfig, **kw: object) -> object:
    return from_completion(CompletionRequest.model_validate({"model": "seed", "prompt": "x", **kw}), cfg)


def infill(cfg: GatewayConfig, **kw: object) -> object:
    return from_infill(InfillRequest.model_validate({"input_prefix": "x", **kw}), cfg)


def test_limits_are_clamped_not_refused() -> None:
    assert completion(LLAMACPP, max_tokens=4096).max_tokens == 256  # type: ignore[attr-defined]
    assert infill(LLAMACPP, n_predict=4096).max_tokens == 256  # type: ignore[attr-defined]
    assert infill(LLAMACPP, n_predict=-1).max_tokens == 256  # type: ignore[attr-defined]
    warm = infill(LLAMACPP, n_predict=0, input_prefix="")
    assert warm.warmup  # type: ignore[attr-defined]
    assert not infill(LLAMACPP, n_predict=1).warmup  # type: ignore[attr-defined]


def test_long_stop_lists_are_accepted() -> None:
    stops = [f"\n{kw}" for kw in ("def", "class", "if", "for", "while", "#", "@", "print", "return")]
    assert len(completion(LLAMACPP, stop=stops).stop) == 9  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="stop"):
        CompletionRequest.model_validate({"model": "seed", "prompt": "x", "stop": ["s"] * 65})


def test_sampling_fields_follow_the_runtime() -> None:
    job = completion(LLAMACPP, top_k=40, min_p=0.05, repetition_penalty=1.1, seed=7)
    assert (job.top_k, job.min_p, job.repetition_penalty, job.seed) == (40, 0.05, 1.1, 7)  # type: ignore[attr-defined]
    # A TensorRT-LLM pool has no min-p sampler: a clear 400 naming the field and the pool.
    with pytest.raises(InvalidRequest) as info:
        completion(MIXED, min_p=0.05)
    assert info.value.param == "min_p"
    assert "tensorrt-llm" in info.value.message
    assert "h100" in info.value.message
    with pytest.raises(InvalidRequest) as info:
        infill(MIXED, min_p=0.1)
    assert info.value.param == "min_p"
    # Neutral values change nothing, so every runtime accepts them; the others it has are accepted.
    assert completion(MIXED, min_p=0, top_k=-1, repetition_penalty=1.0).min_p == 0  # type: ignore[attr-defined]
    assert infill(MIXED, repeat_penalty=1.2, top_k=40).repetition_penalty == 1.2  # type: ignore[attr-defined]


def test_sampling_table_matches_the_triton_models() -> None:
    inputs = {t.name for t in contract.GENERATE_INPUTS}
    for fields in SAMPLING_BY_RUNTIME.values():
        assert fields <= inputs  # the gateway can send every field it accepts
    engine_inputs = {t.name for t in trtllm_repo._TRTLLM_INPUTS}
    assert {"runtime_top_k", "seed", "repetition_penalty"} <= engine_inputs
    assert "min_p" not in SAMPLING_BY_RUNTIME["tensorrt-llm"]


@pytest.mark.parametrize(
    ("pieces", "n_indent", "expected"),
    [
        (["x + 1\n", "    return x\n", "def g():\n"], 4, "x + 1\n    return x\n"),
        (["a\n\n", "    b\n  c"], 4, "a\n\n    b\n"),  # blank lines are kept; a 2-space line ends it
        (["first line at any indent\n", "\tz"], 2, "first line at any indent\n"),  # a tab counts as one
        (["a", "\n ", "   b", "\n"], 4, "a\n    b\n"),  # indentation split across pieces
        (["a\n    "], 4, "a\n    "),  # held indentation is released at the end
    ],
)
def test_n_indent_cuts_at_a_shallower_line(pieces: list[str], n_indent: int, expected: str) -> None:
    cut = IndentLimit(n_indent)
    out = "".join(cut.feed(p) for p in pieces) + cut.finish()
    assert out == expected


def test_text_cut_chains_block_end_and_n_indent() -> None:
    assert text_cut(False, 0, "", None) is None
    cut = text_cut(True, 8, "def f():\n    if x:\n        ", "")
    assert cut is not None
    out = cut.feed("a = 1\n        b = 2\n    c = 3\n") + cut.finish()
    assert out == "a = 1\n        b = 2\n"
    assert cut.done


def test_infill_answer_carries_llamacpp_fields() -> None:
    body = llamacpp_wire.infill_final("c", "m", "x", "length", 120, 16, 3, 0.2, 0.6)
    assert body["truncated"] is True
    assert body["tokens_cached"] == 136
    t = body["timings"]
    assert (t["prompt_n"], t["predicted_n"]) == (120, 16)
    assert t["prompt_ms"] == pytest.approx(200.0)
    assert t["predicted_ms"] == pytest.approx(400.0)
    assert t["predicted_per_second"] == pytest.approx(40.0)
    warm = llamacpp_wire.warmup("c", "m", 0.001)
    assert warm["content"] == ""
    assert warm["tokens_predicted"] == warm["timings"]["predicted_n"] == 0


def test_triton_models_read_and_check_the_new_sampling_tensors() -> None:
    import numpy as np
    from seedcoder.engines.request import RequestError, parse_request

    def getter(**extra: object) -> object:
        tensors = {
            "text_input": np.array([b"x"], dtype=np.object_),
            "max_tokens": np.array([4], dtype=np.int32),
        }
        tensors.update({k: np.array([v], dtype=np.float32) for k, v in extra.items()})
        return tensors.get

    req = parse_request(getter(min_p=0.05, repetition_penalty=1.1), max_tokens_limit=8)  # type: ignore[arg-type]
    assert req.min_p == pytest.approx(0.05)
    assert req.repetition_penalty == pytest.approx(1.1)
    plain = parse_request(getter(), max_tokens_limit=8)  # type: ignore[arg-type]
    assert (plain.min_p, plain.repetition_penalty) == (0.0, 1.0)
    with pytest.raises(RequestError, match="min_p"):
        parse_request(getter(min_p=1.5), max_tokens_limit=8)  # type: ignore[arg-type]
    with pytest.raises(RequestError, match="repetition_penalty"):
        parse_request(getter(repetition_penalty=0.0), max_tokens_limit=8)  # type: ignore[arg-type]

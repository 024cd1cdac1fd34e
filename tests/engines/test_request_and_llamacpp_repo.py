"""Request validation rules (shared by both Triton models) and the llama.cpp repository files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from seedcoder.engines.llamacpp_repo import llamacpp_repository_files, write_llamacpp_repository
from seedcoder.engines.request import RequestError, parse_request


def _getter(**tensors: Any) -> Any:
    return lambda name: tensors.get(name)


def _ok(**extra: Any) -> dict[str, Any]:
    base = {
        "text_input": np.array([b"def f():"], dtype=np.object_),
        "max_tokens": np.array([8], dtype=np.int32),
    }
    return {**base, **extra}


def test_defaults_are_greedy_unstreamed() -> None:
    req = parse_request(_getter(**_ok()), max_tokens_limit=512)
    assert (req.prompt, req.max_tokens, req.stream, req.temperature, req.top_k, req.seed) == (
        "def f():",
        8,
        False,
        0.0,
        0,
        None,
    )


def test_all_inputs_with_batch_dimension() -> None:
    req = parse_request(
        _getter(
            text_input=np.array([[b"x"]], dtype=np.object_),
            max_tokens=np.array([[3]], dtype=np.int32),
            stream=np.array([[True]]),
            stop_words=np.array([[b"\n\n", b"", b"<|end|>"]], dtype=np.object_),
            temperature=np.array([[0.5]], dtype=np.float32),
            top_p=np.array([[0.9]], dtype=np.float32),
            top_k=np.array([[40]], dtype=np.int32),
            seed=np.array([[2**40]], dtype=np.uint64),
            return_log_probs=np.array([[True]]),
        ),
        max_tokens_limit=512,
    )
    assert req.stream
    assert req.stop_words == ("\n\n", "<|end|>")
    assert req.temperature == pytest.approx(0.5)
    assert (req.top_k, req.seed, req.return_log_probs) == (40, 2**40, True)


@pytest.mark.parametrize(
    ("tensors", "message"),
    [
        ({"text_input": None}, "text_input is required"),
        ({"text_input": np.array([b""], dtype=np.object_)}, "text_input is empty"),
        ({"text_input": np.array([b"\xc3("], dtype=np.object_)}, "not valid UTF-8"),
        ({"text_input": np.array([b"a", b"b"], dtype=np.object_)}, "exactly one value"),
        ({"max_tokens": None}, "max_tokens is required"),
        ({"max_tokens": np.array([0], dtype=np.int32)}, "between 1 and 512, got 0"),
        ({"max_tokens": np.array([513], dtype=np.int32)}, "between 1 and 512, got 513"),
        ({"max_tokens": np.array([2.0], dtype=np.float32)}, "max_tokens has the wrong data type"),
        ({"temperature": np.array([-1.0], dtype=np.float32)}, "temperature must be >= 0"),
        ({"temperature": np.array([np.nan], dtype=np.float32)}, "temperature must be >= 0"),
        ({"top_p": np.array([0.0], dtype=np.float32)}, "top_p must be in (0, 1]"),
        ({"top_k": np.array([-2], dtype=np.int32)}, "top_k must be >= 0"),
        ({"stop_words": np.array([1, 2], dtype=np.int32)}, "stop_words has the wrong data type"),
        ({"stop_words": np.array([b"\xff"], dtype=np.object_)}, "stop_words is not valid UTF-8"),
        ({"stream": np.array([1], dtype=np.int32)}, "stream has the wrong data type"),
    ],
)
def test_bad_inputs_are_refused_by_name(tensors: dict[str, Any], message: str) -> None:
    with pytest.raises(RequestError) as info:
        parse_request(_getter(**_ok(**tensors)), max_tokens_limit=512)
    assert message in str(info.value)


def test_llamacpp_repository_layout(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    repo = write_llamacpp_repository(tmp_path / "repo", model, n_ctx=1024, n_threads=3, max_tokens_limit=100)
    names = sorted(str(p.relative_to(repo)) for p in repo.rglob("*") if p.is_file())
    assert names == [
        "seedcoder/1/model.py",
        "seedcoder/config.pbtxt",
        "seedcoder_tokenize/1/model.py",
        "seedcoder_tokenize/config.pbtxt",
    ]
    config = (repo / "seedcoder" / "config.pbtxt").read_text()
    assert f'string_value: "{model.resolve()}"' in config
    assert 'key: "n_threads"\n  value: { string_value: "3" }' in config
    assert "decoupled: true" in config
    assert "max_batch_size: 0" in config
    # the packaged model sources are the files in engines/triton (linked, never copied by hand)
    top = Path(__file__).parents[2] / "engines" / "triton"
    assert (repo / "seedcoder" / "1" / "model.py").read_text() == (top / "llamacpp" / "model.py").read_text()
    assert (repo / "seedcoder_tokenize" / "1" / "model.py").read_text() == (
        top / "tokenize" / "model.py"
    ).read_text()


def test_max_tokens_limit_must_leave_room_for_a_prompt() -> None:
    with pytest.raises(ValueError, match="below n_ctx"):
        llamacpp_repository_files("/m.gguf", n_ctx=512, max_tokens_limit=512)

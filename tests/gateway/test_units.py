"""Request validation, error bodies, tensor encoding, API keys and the feedback store."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import grpc
import pytest
from pydantic import ValidationError
from seedcoder.api.gateway_config import GatewayConfig, PoolEndpoint
from seedcoder.gateway.auth import KeyStore, bearer
from seedcoder.gateway.errors import (
    BackendTimeout,
    BackendUnavailable,
    BadGateway,
    InvalidRequest,
    NotFound,
    from_validation,
    map_backend,
)
from seedcoder.gateway.feedback import FeedbackStore
from seedcoder.gateway.jobs import Job, from_completion
from seedcoder.gateway.protocol import CompletionRequest
from seedcoder.gateway.tensors import Tensor, build_request, decode_bytes, decode_outputs, encode_bytes
from tritonclient.grpc import service_pb2

CFG = GatewayConfig(model_name="seed", pools=[PoolEndpoint(name="cpu", grpc_url="x:1", gpu="CPU")])


def _err(body: str) -> InvalidRequest:
    with pytest.raises(ValidationError) as info:
        CompletionRequest.model_validate_json(body)
    return from_validation(info.value)


def test_validation_errors_name_the_field() -> None:
    assert _err('{"model": "seed"}').param == "prompt"
    assert "max_tokens" in _err('{"model": "seed", "prompt": "x", "max_tokens": -1}').message
    assert _err('{"model": "seed", "prompt": "x", "bogus": 1}').code == "unknown_field"
    assert _err('{"model": "seed", "prompt": "x", "n": "2"}').param == "n"
    assert _err("{not json").code == "invalid_json"
    assert _err("[1]").code == "invalid_body"


def test_semantic_checks() -> None:
    def job(**kw: object) -> Job:
        return from_completion(CompletionRequest.model_validate({"model": "seed", "prompt": "x", **kw}), CFG)

    with pytest.raises(NotFound):
        job(model="gpt-4")
    assert job(max_tokens=10_000).max_tokens == CFG.max_output_tokens  # clamped, not refused
    for bad in ({"n": 99}, {"echo": True}, {"logprobs": 2}, {"best_of": 3},
                {"presence_penalty": 1.0}, {"logit_bias": {"1": 2}}):  # fmt: skip
        with pytest.raises(InvalidRequest):
            job(**bad)
    ok = job(suffix="y", stop="\n", seedcoder={"stop_at_block_end": True}, n=2, best_of=2, temperature=0)
    assert ok.fim
    assert ok.stop == ("\n",)
    assert ok.block_end
    assert ok.greedy


def test_backend_failures_map_to_502_503_504() -> None:
    assert isinstance(map_backend(TimeoutError(), "p"), BackendTimeout)
    assert isinstance(map_backend(ConnectionError("x"), "p"), BackendUnavailable)
    assert isinstance(map_backend(RuntimeError("Triton: bad"), "p"), BadGateway)
    rpc = grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "down")
    err = map_backend(rpc, "p")
    assert err.status == 503
    assert err.body()["error"]["type"] == "service_unavailable"
    late = grpc.aio.AioRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, grpc.aio.Metadata(), grpc.aio.Metadata())
    assert map_backend(late, "p").status == 504


def test_tensor_roundtrip() -> None:
    items = [b"", b"abc", "é<[fim-middle]>".encode()]
    assert decode_bytes(encode_bytes(items)) == items
    req = build_request(
        "m", "7", [Tensor("text_input", "BYTES", [b"hi"]), Tensor("max_tokens", "INT32", 5)], True, True
    )
    assert list(req.inputs[0].shape) == [1, 1]
    assert req.parameters["triton_enable_empty_final_response"].bool_param
    resp = service_pb2.ModelInferResponse()
    for t, raw in zip(req.inputs, req.raw_input_contents, strict=True):
        resp.outputs.add(name=t.name, datatype=t.datatype, shape=t.shape)
        resp.raw_output_contents.append(raw)
    assert decode_outputs(resp) == {"text_input": [b"hi"], "max_tokens": 5}


def test_keys_reload_and_constant_time_check(tmp_path: Path) -> None:
    (tmp_path / "alice").write_text("key-a\n")
    (tmp_path / "..data").mkdir()
    store = KeyStore(str(tmp_path))
    assert store.reload()
    assert store.count == 1
    assert store.check("key-a")
    assert store.check("key-b") is None
    assert store.check("") is None
    (tmp_path / "bob").write_text("key-b")
    assert store.reload()
    assert store.check("key-b")
    assert not store.reload()  # unchanged
    assert bearer("Bearer  tok ") == "tok"
    assert bearer("Basic x") is None


def test_feedback_rotates_and_survives(tmp_path: Path) -> None:
    store = FeedbackStore(str(tmp_path / "fb"), max_file_bytes=200, writer="gw-a")

    async def go() -> list[str]:
        return [await store.append({"n": i, "pad": "x" * 60}) for i in range(6)]

    names = asyncio.run(go())
    assert len(set(names)) >= 2
    lines = [
        json.loads(line) for p in sorted((tmp_path / "fb").iterdir()) for line in p.read_text().splitlines()
    ]
    assert [e["n"] for e in lines] == list(range(6))
    again = FeedbackStore(str(tmp_path / "fb"), max_file_bytes=200, writer="gw-a")
    assert asyncio.run(again.append({"n": 6})) >= names[-1]  # resumes at the newest file


def test_feedback_write_failure_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = FeedbackStore(str(blocker / "sub"), max_file_bytes=100, writer="gw-a")
    with pytest.raises(NotADirectoryError):
        asyncio.run(store.append({"x": 1}))
    assert os.path.exists(blocker)

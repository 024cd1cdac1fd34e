"""The gateway speaks the engines' tensor contract (``seedcoder.engines.contract``) by its names.

Why: the two repository generators and the gateway are the two ends of one
interface; the names live once, in the contract module. A tensor or model name the
gateway spells on its own (or one the contract does not have) fails here.
"""

from __future__ import annotations

import ast
import struct
from pathlib import Path
from typing import Any

import numpy as np
from seedcoder.api.gateway_config import GatewayConfig
from seedcoder.engines import contract
from seedcoder.gateway import backend
from seedcoder.gateway.backend import GenParams, LoraSelection
from seedcoder.gateway.tensors import build_request, encode_bytes
from tritonclient.grpc import service_pb2

GATEWAY = Path(backend.__file__).parent
TENSOR_NAMES = {s.name for s in contract.GENERATE_INPUTS + contract.GENERATE_OUTPUTS}
TENSOR_NAMES |= {s.name for s in contract.TOKENIZE_INPUTS + contract.TOKENIZE_OUTPUTS}
MODEL_NAMES = {contract.MODEL_NAME, contract.TOKENIZE_MODEL_NAME, contract.TOKENIZE_SUFFIX}
# The modules that hold the Triton side of the gateway (backend.py's docstring says so).
TRITON_SIDE = ("backend.py", "tensors.py", "app.py")

EVERY_OPTION = GenParams(
    prompt="def f():",
    max_tokens=8,
    temperature=0.2,
    top_p=0.9,
    top_k=40,
    seed=7,
    min_p=0.05,
    repetition_penalty=1.1,
    stop=["\n\n"],
    log_probs=True,
    lora=LoraSelection(name="payments", path="payments/run-1/adapter.gguf", scale=0.5, task_id=42),
)


def test_every_input_the_gateway_sends_is_the_contracts_by_name_and_type() -> None:
    request = build_request(contract.MODEL_NAME, "1", backend._tensors(EVERY_OPTION), False, True)
    sent = {i.name: i.datatype for i in request.inputs}
    expected = {s.name: contract.WIRE_TYPES[s.data_type] for s in contract.GENERATE_INPUTS}
    assert set(sent) - set(expected) == set(), "inputs the contract does not have"
    assert sent == expected  # every option set: every input of the contract, with its type


def _response(arrays: list[tuple[str, Any]]) -> service_pb2.ModelInferResponse:
    """A response as a runtime's model sends it (``contract.output_arrays``), encoded like Triton does."""
    resp = service_pb2.ModelInferResponse(model_name=contract.MODEL_NAME, id="1")
    for name, arr in arrays:
        if arr.dtype == np.object_:
            resp.outputs.add(name=name, datatype="BYTES", shape=list(arr.shape))
            resp.raw_output_contents.append(encode_bytes(list(arr)))
        else:
            dtype = {np.dtype(np.int32): "INT32", np.dtype(np.float32): "FP32"}[arr.dtype]
            resp.outputs.add(name=name, datatype=dtype, shape=list(arr.shape))
            resp.raw_output_contents.append(arr.tobytes())
    resp.parameters["triton_final_response"].bool_param = True
    return resp


def test_every_output_the_runtimes_send_is_read() -> None:
    arrays = contract.output_arrays("    return 1", 4, 12, finish="stop", cum_log_prob=-1.5)
    assert {name for name, _ in arrays} == {s.name for s in contract.GENERATE_OUTPUTS}
    chunk = backend._chunk(_response(arrays))
    assert chunk.text == "    return 1"
    assert (chunk.output_tokens, chunk.input_tokens) == (4, 12)
    assert chunk.finish_reason == "stop"
    assert chunk.cum_log_prob is not None
    assert struct.pack("<f", chunk.cum_log_prob) == struct.pack("<f", -1.5)


def test_the_gateway_calls_the_contracts_models() -> None:
    cfg = GatewayConfig.model_validate(
        {"model_name": "seed-coder", "pools": [{"name": "a", "grpc_url": "127.0.0.1:1", "gpu": "CPU"}]}
    )
    assert cfg.triton_model == contract.MODEL_NAME
    assert cfg.triton_model + contract.TOKENIZE_SUFFIX == contract.TOKENIZE_MODEL_NAME


def _literals(tree: ast.AST) -> list[tuple[int, str]]:
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_the_triton_side_spells_no_tensor_or_model_name_itself() -> None:
    found = []
    for name in TRITON_SIDE:
        tree = ast.parse((GATEWAY / name).read_text(), name)
        found += [
            f"{name}:{line}: {text!r}" for line, text in _literals(tree) if text in TENSOR_NAMES | MODEL_NAMES
        ]
    assert found == [], "take these names from seedcoder.engines.contract"


def test_no_tensor_is_built_from_a_literal_name_anywhere_in_the_gateway() -> None:
    found = []
    for path in sorted(GATEWAY.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), path.name)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "Tensor"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.append(f"{path.name}:{node.lineno}: Tensor({node.args[0].value!r}, ...)")
    assert found == [], "tensor names come from seedcoder.engines.contract"

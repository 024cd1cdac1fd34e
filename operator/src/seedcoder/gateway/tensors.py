"""Encoding Triton's tensor contract straight into (and out of) the gRPC protobufs.

Why not ``tritonclient.grpc.aio``'s ``stream_infer``: it cannot ask for Triton's
empty final response (``triton_enable_empty_final_response`` is a reserved
parameter there), without which a decoupled model's end of stream is not
visible; and building requests through numpy costs tens of microseconds per
tensor on the gateway's hot path. These few scalar and BYTES tensors are simple
to encode by hand (little-endian; BYTES elements prefixed by a 4-byte length).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from tritonclient.grpc import service_pb2

_FMT = {"INT32": "<i", "FP32": "<f", "UINT64": "<Q", "BOOL": "<?"}


def encode_bytes(items: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(item)) + item for item in items)


def decode_bytes(raw: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos + 4 <= len(raw):
        (size,) = struct.unpack_from("<I", raw, pos)
        out.append(raw[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return out


@dataclass(frozen=True, slots=True)
class Tensor:
    name: str
    dtype: str
    value: Any  # a scalar, or a list of bytes for BYTES


def build_request(
    model: str, request_id: str, tensors: list[Tensor], batched: bool, empty_final: bool
) -> service_pb2.ModelInferRequest:
    req = service_pb2.ModelInferRequest(model_name=model, id=request_id)
    for t in tensors:
        if t.dtype == "BYTES":
            items = t.value if isinstance(t.value, list) else [t.value]
            raw = encode_bytes(items)
            count = len(items)
        else:
            raw = struct.pack(_FMT[t.dtype], t.value)
            count = 1
        shape = [1, count] if batched else [count]
        req.inputs.add(name=t.name, datatype=t.dtype, shape=shape)
        req.raw_input_contents.append(raw)
    if empty_final:
        req.parameters["triton_enable_empty_final_response"].bool_param = True
    return req


def decode_outputs(resp: service_pb2.ModelInferResponse) -> dict[str, Any]:
    """Output name -> a scalar, or a list of bytes for BYTES tensors."""
    out: dict[str, Any] = {}
    for i, meta in enumerate(resp.outputs):
        if i < len(resp.raw_output_contents):
            raw = resp.raw_output_contents[i]
            if meta.datatype == "BYTES":
                out[meta.name] = decode_bytes(raw)
            elif meta.datatype in _FMT and raw:
                out[meta.name] = struct.unpack_from(_FMT[meta.datatype], raw)[0]
        else:  # typed contents (not used by Triton's gRPC frontend, kept for safety)
            c = meta.contents
            if meta.datatype == "BYTES":
                out[meta.name] = list(c.bytes_contents)
            elif c.int_contents:
                out[meta.name] = c.int_contents[0]
            elif c.fp32_contents:
                out[meta.name] = c.fp32_contents[0]
            elif c.bool_contents:
                out[meta.name] = c.bool_contents[0]
            elif c.uint64_contents:
                out[meta.name] = c.uint64_contents[0]
    return out


def is_final(resp: service_pb2.ModelInferResponse) -> bool:
    param = resp.parameters.get("triton_final_response")
    return bool(param.bool_param) if param is not None else False

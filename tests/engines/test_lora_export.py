"""PEFT adapter -> TensorRT-LLM's per-request LoRA tensors (``engines.lora_export``).

The adapter folders are written here in PEFT's layout (``adapter_config.json`` +
``adapter_model.safetensors``, the safetensors format written byte by byte), and the
result is read back with the serving model's own loader.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from seedcoder.engines.lora import load_trtllm_weights
from seedcoder.engines.lora_export import ExportError, main, peft_to_trtllm, read_safetensors

PREFIX = "base_model.model.model.layers"


def write_safetensors(path: Path, tensors: dict[str, np.ndarray], bf16: bool = False) -> None:
    header: dict[str, object] = {}
    blobs: list[bytes] = []
    offset = 0
    for name, arr in tensors.items():
        if bf16:
            blob = (arr.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16).tobytes()
        else:
            blob = arr.astype(np.float32).tobytes()
        header[name] = {
            "dtype": "BF16" if bf16 else "F32",
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)
    head = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(head)) + head + b"".join(blobs))


def adapter(
    tmp_path: Path, rank: int = 2, alpha: int = 4, bf16: bool = False
) -> tuple[Path, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    folder = tmp_path / "adapter"
    folder.mkdir()
    tensors = {}
    for layer in (0, 1):
        tensors[f"{PREFIX}.{layer}.self_attn.q_proj.lora_A.weight"] = rng.normal(size=(rank, 8)).astype(
            np.float32
        )
        tensors[f"{PREFIX}.{layer}.self_attn.q_proj.lora_B.weight"] = rng.normal(size=(8, rank)).astype(
            np.float32
        )
    tensors[f"{PREFIX}.1.mlp.down_proj.lora_A.weight"] = np.ones((rank, 16), dtype=np.float32)
    tensors[f"{PREFIX}.1.mlp.down_proj.lora_B.weight"] = np.full((8, rank), 0.5, dtype=np.float32)
    (folder / "adapter_config.json").write_text(json.dumps({"r": rank, "lora_alpha": alpha}))
    write_safetensors(folder / "adapter_model.safetensors", tensors, bf16)
    return folder, tensors


def test_rows_hold_a_then_scaled_b_with_the_module_ids(tmp_path: Path) -> None:
    folder, tensors = adapter(tmp_path)
    done = peft_to_trtllm(folder, tmp_path / "out")
    assert (done.rows, done.rank, done.layers, done.modules) == (3, 2, 2, ("down_proj", "q_proj"))
    weights, config = load_trtllm_weights(tmp_path / "out")
    assert weights.shape == (1, 3, 2 * 16 + 8 * 2)  # the longest row: down_proj's A (2x16) + B (8x2)
    assert config.tolist() == [
        [[1, 0, 2], [6, 1, 2], [1, 1, 2]]
    ]  # by layer, then module; attn_q 1, mlp_4h_to_h 6
    a = tensors[f"{PREFIX}.0.self_attn.q_proj.lora_A.weight"]
    b = tensors[f"{PREFIX}.0.self_attn.q_proj.lora_B.weight"]
    row = weights[0, 0]
    np.testing.assert_allclose(row[:16], a.reshape(-1))
    np.testing.assert_allclose(row[16:32], (b * 2.0).reshape(-1))  # alpha / r = 2
    assert not row[32:].any()  # padding
    np.testing.assert_allclose(weights[0, 1, 32:], 1.0)  # 0.5 * 2


def test_bf16_adapters_are_read(tmp_path: Path) -> None:
    folder, tensors = adapter(tmp_path, bf16=True)
    read = read_safetensors(folder / "adapter_model.safetensors")
    key = f"{PREFIX}.1.mlp.down_proj.lora_B.weight"
    np.testing.assert_array_equal(read[key], tensors[key])  # 0.5 is exact in bfloat16
    peft_to_trtllm(folder, tmp_path / "out")


def test_bad_adapters_are_refused_naming_the_problem(tmp_path: Path) -> None:
    folder, tensors = adapter(tmp_path)
    del tensors[f"{PREFIX}.1.mlp.down_proj.lora_B.weight"]
    write_safetensors(folder / "adapter_model.safetensors", tensors)
    with pytest.raises(ExportError, match="down_proj lacks lora_B"):
        peft_to_trtllm(folder, tmp_path / "out")
    write_safetensors(
        folder / "adapter_model.safetensors", {"base_model.model.lm_head.weight": np.zeros((2, 2))}
    )
    with pytest.raises(ExportError, match="not a LoRA A/B matrix"):
        peft_to_trtllm(folder, tmp_path / "out")
    with pytest.raises(ExportError, match=r"adapter_config\.json"):
        peft_to_trtllm(tmp_path / "missing", tmp_path / "out")
    assert main([str(tmp_path / "missing"), str(tmp_path / "out")]) == 1
    assert main([]) == 2

"""A trained PEFT LoRA adapter in TensorRT-LLM's per-request format (``model.lora_*.npy``).

Why: TensorRT-LLM pools take an adapter with its first request as two tensors
(``seedcoder.engines.lora``): one row per (layer, module) holding the module's
``A`` (rank x in) and ``B`` (out x rank, already multiplied by ``alpha / r``)
flattened one after the other, padded to the longest row, and a config row
``[module id, layer, rank]``. This is the layout of TensorRT-LLM's
``examples/hf_lora_convert.py``, written here with numpy only (the safetensors
file is read by hand, BF16 included), so the publish step needs neither torch nor
TensorRT-LLM and the conversion is unit-tested. Weights are stored as float32;
the serving model casts them to the engine's dtype when it sends them.

    python -m seedcoder.engines.lora_export ADAPTER_DIR OUT_DIR
"""

from __future__ import annotations

import json
import re
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seedcoder.engines.lora import CONFIG_FILE, WEIGHTS_FILE
from seedcoder.engines.trtllm_args import TRTLLM_LORA_MODULES

# TensorRT-LLM's LoraManager.LORA_MODULE_IDS (tensorrt_llm/lora_manager.py) for the modules used here.
MODULE_IDS: dict[str, int] = {
    "attn_q": 1,
    "attn_k": 2,
    "attn_v": 3,
    "attn_dense": 4,
    "mlp_h_to_4h": 5,
    "mlp_4h_to_h": 6,
    "mlp_gate": 7,
}
_KEY = re.compile(r".*\.layers\.(\d+)\.(?:self_attn|mlp)\.([a-z_]+)\.lora_([AB])\.weight$")
_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16}


class ExportError(ValueError):
    """The adapter folder cannot be converted; the message names what is wrong."""


def read_safetensors(path: Path) -> dict[str, np.ndarray]:  # type: ignore[type-arg]
    """Every tensor of a safetensors file as float32 (F32, F16 and BF16 tensors)."""
    raw = path.read_bytes()
    if len(raw) < 8:
        raise ExportError(f"{path.name} is not a safetensors file (too short)")
    (size,) = struct.unpack_from("<Q", raw, 0)
    try:
        header: dict[str, Any] = json.loads(raw[8 : 8 + size])
    except ValueError as exc:
        raise ExportError(f"{path.name} has no valid safetensors header: {exc}") from None
    data = memoryview(raw)[8 + size :]
    out: dict[str, np.ndarray] = {}  # type: ignore[type-arg]
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(meta["dtype"])
        if dtype is None:
            raise ExportError(f"{path.name}: tensor {name} has unsupported dtype {meta['dtype']}")
        begin, end = meta["data_offsets"]
        arr = np.frombuffer(data[begin:end], dtype=dtype).reshape(meta["shape"])
        if meta["dtype"] == "BF16":  # the high half of a float32
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        out[name] = arr.astype(np.float32)
    return out


@dataclass(frozen=True, slots=True)
class Exported:
    rows: int
    rank: int
    layers: int
    modules: tuple[str, ...]


def peft_to_trtllm(adapter_dir: Path, out_dir: Path) -> Exported:
    """Convert ``adapter_dir`` (PEFT's ``adapter_config.json`` + ``adapter_model.safetensors``)."""
    try:
        config = json.loads((adapter_dir / "adapter_config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ExportError(f"{adapter_dir} has no readable adapter_config.json: {exc}") from None
    rank, alpha = int(config["r"]), float(config["lora_alpha"])
    scale = alpha / np.sqrt(rank) if config.get("use_rslora") else alpha / rank
    tensors = read_safetensors(adapter_dir / "adapter_model.safetensors")
    pairs: dict[tuple[int, str], dict[str, np.ndarray]] = {}  # type: ignore[type-arg]
    for key, value in tensors.items():
        m = _KEY.match(key)
        if m is None:
            raise ExportError(f"tensor {key} is not a LoRA A/B matrix of a decoder layer")
        layer, module, part = int(m.group(1)), m.group(2), m.group(3)
        if module not in TRTLLM_LORA_MODULES:
            raise ExportError(f"tensor {key}: module {module} has no TensorRT-LLM LoRA counterpart")
        pairs.setdefault((layer, module), {})[part] = value
    if not pairs:
        raise ExportError(f"{adapter_dir} holds no LoRA matrices")
    rows: list[np.ndarray] = []  # type: ignore[type-arg]
    configs: list[list[int]] = []
    for (layer, module), ab in sorted(pairs.items()):
        if set(ab) != {"A", "B"}:
            raise ExportError(f"layer {layer} {module} lacks lora_{'B' if 'A' in ab else 'A'}")
        a, b = ab["A"], ab["B"]
        if a.ndim != 2 or b.ndim != 2 or a.shape[0] != rank or b.shape[1] != rank:
            raise ExportError(f"layer {layer} {module}: A {a.shape} and B {b.shape} are not rank {rank}")
        rows.append(np.concatenate([a.reshape(-1), (b * scale).reshape(-1)]))
        configs.append([MODULE_IDS[TRTLLM_LORA_MODULES[module]], layer, rank])
    width = max(r.size for r in rows)
    weights = np.stack([np.pad(r, (0, width - r.size)) for r in rows])[np.newaxis].astype(np.float32)
    out_dir.mkdir(parents=True, exist_ok=True)
    np.save(out_dir / WEIGHTS_FILE, weights)
    np.save(out_dir / CONFIG_FILE, np.array(configs, dtype=np.int32)[np.newaxis])
    return Exported(
        rows=len(rows),
        rank=rank,
        layers=len({layer for layer, _ in pairs}),
        modules=tuple(sorted({module for _, module in pairs})),
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m seedcoder.engines.lora_export ADAPTER_DIR OUT_DIR", file=sys.stderr)
        return 2
    try:
        done = peft_to_trtllm(Path(args[0]), Path(args[1]))
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"rows": done.rows, "rank": done.rank, "layers": done.layers, "modules": done.modules}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

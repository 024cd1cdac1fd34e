"""A SYNTHETIC GGUF LoRA adapter for the demo model, written with the ``gguf`` package.

Why synthetic: the serving path (Triton model, adapter cache, gateway routing)
must be tested with a real adapter file that llama.cpp loads and applies, and
training one (PEFT, then llama.cpp's converter) takes minutes and torch. This
writes a valid GGUF LoRA (``general.type=adapter``, ``adapter.type=lora``,
``adapter.lora.alpha``) with deterministic random low-rank A/B matrices for the
attention query and FFN down projections of every block: it changes the model's
answers, and means nothing else. Shapes come from the base model file itself.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

TARGETS = ("attn_q", "ffn_down")


def write_synthetic_lora(base: Path, dest: Path, *, rank: int = 4, alpha: float = 8.0, seed: int = 7) -> Path:
    reader = gguf.GGUFReader(str(base))
    field = reader.fields["general.architecture"]
    arch = bytes(field.parts[field.data[0]]).decode("utf-8")
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(dest), arch=arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    count = 0
    for tensor in reader.tensors:
        stem = tensor.name.removesuffix(".weight")
        if not tensor.name.endswith(".weight") or stem.split(".")[-1] not in TARGETS:
            continue
        n_in, n_out = (int(x) for x in tensor.shape[:2])  # ggml order: ne[0] = input features
        a = rng.normal(0.0, 1.0 / np.sqrt(n_in), size=(rank, n_in)).astype(np.float32)
        b = rng.normal(0.0, 0.5, size=(n_out, rank)).astype(np.float32)
        writer.add_tensor(f"{tensor.name}.lora_a", a)
        writer.add_tensor(f"{tensor.name}.lora_b", b)
        count += 1
    if not count:
        raise ValueError(f"{base} has no {TARGETS} tensors to adapt")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dest

"""Writing Triton ``config.pbtxt`` files with a reason beside every setting.

Why: model configurations are reviewed as text (golden files), and a setting
without a reason gets cargo-culted or "cleaned up". The writer is tiny and pure:
a ``#`` comment before each tensor and parameter says why it is there.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class TensorSpec:
    name: str
    data_type: str
    dims: tuple[int, ...]
    optional: bool = False
    why: str = ""
    reshape: tuple[int, ...] | None = None
    ragged: bool = False


@dataclass(frozen=True)
class Param:
    key: str
    value: str
    why: str


def _q(text: str) -> str:
    """A protobuf text-format string literal (JSON escaping is a valid subset)."""
    return json.dumps(text, ensure_ascii=False)


def tensors(kind: str, specs: Sequence[TensorSpec]) -> str:
    """An ``input [...]`` or ``output [...]`` block."""
    items = []
    for spec in specs:
        lines = [f"  # {spec.why}"] if spec.why else []
        lines += ["  {", f"    name: {_q(spec.name)}", f"    data_type: {spec.data_type}"]
        lines.append(f"    dims: [ {', '.join(str(d) for d in spec.dims)} ]")
        if spec.reshape is not None:
            lines.append(f"    reshape: {{ shape: [ {', '.join(str(d) for d in spec.reshape)} ] }}")
        if spec.optional:
            lines.append("    optional: true")
        if spec.ragged:
            lines.append("    allow_ragged_batch: true")
        lines.append("  }")
        items.append("\n".join(lines))
    return f"{kind} [\n" + ",\n".join(items) + "\n]\n"


def parameters(params: Sequence[Param]) -> str:
    """``parameters: {...}`` entries (string values, as Triton's backends read them)."""
    out = []
    for p in params:
        out.append(
            f"# {p.why}\nparameters: {{\n  key: {_q(p.key)}\n  value: {{ string_value: {_q(p.value)} }}\n}}\n"
        )
    return "".join(out)


def header(name: str, backend: str, max_batch_size: int, why: str) -> str:
    return f"# {why}\nname: {_q(name)}\nbackend: {_q(backend)}\nmax_batch_size: {max_batch_size}\n"


def decoupled(why: str) -> str:
    return f"# {why}\nmodel_transaction_policy {{\n  decoupled: true\n}}\n"


def instance_group(count: int, kind: str, why: str) -> str:
    return f"# {why}\ninstance_group [\n  {{\n    count: {count}\n    kind: {kind}\n  }}\n]\n"


def dynamic_batching(max_queue_delay_us: int, why: str) -> str:
    return f"# {why}\ndynamic_batching {{\n  max_queue_delay_microseconds: {max_queue_delay_us}\n}}\n"

"""LoRA adapters in the serving models: the request tensors, where files may be, and which are loaded.

Why here, pure: both runtimes' Triton models (llama.cpp and the TensorRT-LLM
BLS) read the same optional request tensors (docs/interfaces.md) and must refuse
the same bad ones; the rules are unit-tested without a server.

* ``lora_path`` (STRING): the adapter's files, relative to the model's
  ``lora_dir`` parameter (the folder of published adapters the pod mounts
  read-only). A path that leaves that folder is refused, so a caller can never
  make the model open another file.
* ``lora_scale`` (FP32, default 1): llama.cpp's scale of the adapter.
* ``lora_task_id`` (UINT64): TensorRT-LLM's LoRA cache id of the adapter.

llama.cpp: one base model per instance, adapters loaded once each (a few MB)
and applied per request (``llama_set_adapters_lora`` on the context), rather than
one model instance per adapter (every instance would hold its own copy of the
base weights and KV cache). :class:`AdapterCache` keeps at most ``max_loaded``
adapters, least recently used first out. Switching the adapter invalidates the
context's cached prefix (its KV was computed with other weights), so the model
starts the prompt afresh whenever the adapter differs from the previous request's.

TensorRT-LLM: :class:`TaskIds` remembers which task ids this model already sent
with their weights (``lora_weights`` + ``lora_config``, TensorRT-LLM's converted
format in ``model.lora_weights.npy`` / ``model.lora_config.npy``); later requests
send only the id, and a cache miss reported by the engine is retried with the
weights. The LoRA build options live in :mod:`seedcoder.engines.trtllm_args`.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Generic, TypeVar

import numpy as np

from seedcoder.engines import contract
from seedcoder.engines.request import Getter, RequestError, one_input, text_value

SERVING_LORA_DIR: Final = "/var/lib/seedcoder/adapters"
"""Where serving pods mount the published adapters (read-only): the models' ``lora_dir``."""
WEIGHTS_FILE = "model.lora_weights.npy"
CONFIG_FILE = "model.lora_config.npy"
MAX_SCALE = 4.0


@dataclass(frozen=True, slots=True)
class LoraRequest:
    """The adapter one request asks for."""

    path: str
    scale: float = 1.0
    task_id: int | None = None


def parse_lora(get: Getter) -> LoraRequest | None:
    """The request's adapter, or None for the base model; raises :class:`RequestError` naming the input."""
    raw = one_input(get, contract.LORA_PATH, "bytes")
    if raw is None:
        if get(contract.LORA_TASK_ID) is not None or get(contract.LORA_SCALE) is not None:
            raise RequestError("lora_task_id and lora_scale need lora_path")
        return None
    path = text_value(raw[0], contract.LORA_PATH)
    check_relative(path)
    scale = 1.0
    if (s := one_input(get, contract.LORA_SCALE, "float")) is not None:
        scale = float(s[0])
        if not (math.isfinite(scale) and 0 < scale <= MAX_SCALE):
            raise RequestError(f"lora_scale must be in (0, {MAX_SCALE:g}], got {scale}")
    task_id = None
    if (t := one_input(get, contract.LORA_TASK_ID, "int")) is not None:
        task_id = int(t.astype(np.uint64)[0])
        if task_id < 1:
            raise RequestError("lora_task_id must be at least 1")
    return LoraRequest(path, scale, task_id)


def check_relative(path: str) -> str:
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise RequestError(f"lora_path {path!r} must be a relative path without '.', '..' or empty parts")
    return path


def resolve(lora_dir: str, path: str) -> Path:
    """The adapter file or folder ``path`` inside ``lora_dir``; never outside it (symlinks included)."""
    if not lora_dir:
        raise RequestError("this model serves no LoRA adapters (its lora_dir parameter is empty)")
    root = Path(lora_dir).resolve()
    target = (root / check_relative(path)).resolve()
    if not target.is_relative_to(root):
        raise RequestError(f"lora_path {path!r} leaves the adapter folder")
    if not target.exists():
        raise RequestError(f"adapter {path!r} is not in the adapter folder (not published to this pod yet?)")
    return target


H = TypeVar("H")


class AdapterCache(Generic[H]):
    """Loaded adapters by path, at most ``max_loaded``; the least recently used one is freed first."""

    def __init__(self, load: Callable[[Path], H], free: Callable[[H], None], max_loaded: int) -> None:
        if max_loaded < 1:
            raise ValueError(f"max_loaded must be at least 1, got {max_loaded}")
        self._load, self._free, self._max = load, free, max_loaded
        self._loaded: OrderedDict[Path, H] = OrderedDict()
        self.active: tuple[Path, float] | None = None
        """The adapter (and scale) the context was last set to; None: the base model."""

    def get(self, path: Path) -> H:
        handle = self._loaded.get(path)
        if handle is None:
            handle = self._loaded[path] = self._load(path)
            while len(self._loaded) > self._max:
                old_path, old = self._loaded.popitem(last=False)
                if self.active is not None and self.active[0] == old_path:
                    self.active = None  # the caller sets the context again before the next decode
                self._free(old)
        self._loaded.move_to_end(path)
        return handle

    def switch(self, wanted: tuple[Path, float] | None) -> bool:
        """Record ``wanted`` as active; True when it differs from before (the KV prefix is stale)."""
        changed = wanted != self.active
        self.active = wanted
        return changed

    def __len__(self) -> int:
        return len(self._loaded)

    def close(self) -> None:
        while self._loaded:
            self._free(self._loaded.popitem()[1])
        self.active = None


class TaskIds:
    """TensorRT-LLM task ids whose weights this model already sent (bounded: the engine's cache is)."""

    def __init__(self, max_known: int) -> None:
        self._max = max_known
        self._known: OrderedDict[int, str] = OrderedDict()

    def needs_weights(self, task_id: int, path: str) -> bool:
        """Whether the request must carry the weights (first use, or the id now names other files)."""
        return self._known.get(task_id) != path

    def sent(self, task_id: int, path: str) -> None:
        self._known[task_id] = path
        self._known.move_to_end(task_id)
        while len(self._known) > self._max:
            self._known.popitem(last=False)

    def forget(self, task_id: int) -> None:
        self._known.pop(task_id, None)


def is_cache_miss(message: str) -> bool:
    """An engine error meaning the task's weights are no longer in the LoRA cache (send them again)."""
    text = message.lower()
    return "lora" in text and ("not found" in text or ("cache" in text and "miss" in text))


def load_trtllm_weights(folder: Path) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    """``lora_weights`` [1, modules, size] and ``lora_config`` [1, modules, 3] from a converted adapter."""
    try:
        weights = np.load(folder / WEIGHTS_FILE)
        config = np.load(folder / CONFIG_FILE)
    except (OSError, ValueError) as exc:
        raise RequestError(f"adapter folder {folder.name!r} lacks TensorRT-LLM LoRA files: {exc}") from None
    if weights.ndim == 2:
        weights = weights[np.newaxis]
    if config.ndim == 2:
        config = config[np.newaxis]
    if config.shape[-1] != 3 or config.shape[1] != weights.shape[1]:
        raise RequestError(
            f"adapter {folder.name!r}: lora_config {config.shape} does not match lora_weights {weights.shape}"
        )
    return weights, config.astype(np.int32)

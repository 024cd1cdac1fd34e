"""The serving models' LoRA rules (``engines.lora``): request tensors, the adapter folder, the caches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from seedcoder.engines.lora import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    AdapterCache,
    TaskIds,
    is_cache_miss,
    load_trtllm_weights,
    parse_lora,
    resolve,
)
from seedcoder.engines.request import RequestError


def getter(**tensors: object) -> object:
    arrays = {k: np.asarray(v) for k, v in tensors.items()}
    return arrays.get


def test_no_lora_path_is_the_base_model_and_strays_are_refused() -> None:
    assert parse_lora(getter()) is None  # type: ignore[arg-type]
    with pytest.raises(RequestError, match="need lora_path"):
        parse_lora(getter(lora_task_id=np.array([3], dtype=np.uint64)))  # type: ignore[arg-type]


def test_lora_inputs_are_parsed_and_checked() -> None:
    got = parse_lora(
        getter(  # type: ignore[arg-type]
            lora_path=np.array([b"a/b.gguf"], dtype=np.object_),
            lora_scale=np.array([0.5], dtype=np.float32),
            lora_task_id=np.array([9], dtype=np.uint64),
        )
    )
    assert got is not None
    assert (got.path, got.scale, got.task_id) == ("a/b.gguf", 0.5, 9)
    for bad, message in [
        ({"lora_path": np.array([b"../x"], dtype=np.object_)}, "relative path"),
        ({"lora_path": np.array([b"/etc/x"], dtype=np.object_)}, "relative path"),
        ({"lora_path": np.array([1], dtype=np.int32)}, "lora_path has the wrong data type"),
        ({"lora_path": np.array([b"a", b"b"], dtype=np.object_)}, "exactly one"),
        ({"lora_path": np.array([b"a"], dtype=np.object_), "lora_scale": np.array([9.0])}, "lora_scale"),
        ({"lora_path": np.array([b"a"], dtype=np.object_), "lora_task_id": np.array([0])}, "at least 1"),
    ]:
        with pytest.raises(RequestError, match=message):
            parse_lora(getter(**bad))  # type: ignore[arg-type]


def test_paths_stay_inside_the_adapter_folder(tmp_path: Path) -> None:
    root = tmp_path / "adapters"
    root.mkdir()
    (root / "a.gguf").write_bytes(b"x")
    (tmp_path / "secret").write_bytes(b"x")
    (root / "link.gguf").symlink_to(tmp_path / "secret")
    assert resolve(str(root), "a.gguf") == (root / "a.gguf").resolve()
    with pytest.raises(RequestError, match="leaves the adapter folder"):
        resolve(str(root), "link.gguf")
    with pytest.raises(RequestError, match="not in the adapter folder"):
        resolve(str(root), "b.gguf")
    with pytest.raises(RequestError, match="serves no LoRA adapters"):
        resolve("", "a.gguf")


def test_the_adapter_cache_loads_once_frees_the_least_recently_used_and_tracks_switches() -> None:
    loaded: list[str] = []
    freed: list[str] = []
    cache: AdapterCache[str] = AdapterCache(lambda p: loaded.append(p.name) or p.name, freed.append, 2)
    a, b, c = Path("a"), Path("b"), Path("c")
    assert cache.get(a) == "a"
    assert cache.get(a) == "a"
    assert loaded == ["a"]
    assert cache.switch((a, 1.0)) is True
    assert cache.switch((a, 1.0)) is False  # same adapter: the KV prefix stays valid
    assert cache.switch((a, 0.5)) is True  # another scale changes the weights too
    cache.get(b)
    cache.get(a)  # a is now the most recent
    cache.get(c)  # b goes
    assert freed == ["b"]
    assert len(cache) == 2
    cache.close()
    assert sorted(freed) == ["a", "b", "c"]
    assert cache.active is None


def test_task_ids_send_weights_once_per_path() -> None:
    ids = TaskIds(max_known=2)
    assert ids.needs_weights(1, "p/r1")
    ids.sent(1, "p/r1")
    assert not ids.needs_weights(1, "p/r1")
    assert ids.needs_weights(1, "p/r2")  # the same id now names other files: send them
    ids.sent(2, "q")
    ids.sent(3, "r")
    assert ids.needs_weights(1, "p/r1")  # forgotten: bounded like the engine's cache
    ids.forget(3)
    assert ids.needs_weights(3, "r")
    assert is_cache_miss("LoRA task 7 not found in cache")
    assert not is_cache_miss("out of memory")


def test_trtllm_weights_are_read_and_checked(tmp_path: Path) -> None:
    np.save(tmp_path / WEIGHTS_FILE, np.zeros((4, 96), dtype=np.float16))
    np.save(tmp_path / CONFIG_FILE, np.array([[1, 0, 8]] * 4, dtype=np.int64))
    weights, config = load_trtllm_weights(tmp_path)
    assert weights.shape == (1, 4, 96)
    assert config.shape == (1, 4, 3)
    assert config.dtype == np.int32
    np.save(tmp_path / CONFIG_FILE, np.array([[1, 0, 8]] * 3))
    with pytest.raises(RequestError, match="does not match"):
        load_trtllm_weights(tmp_path)
    with pytest.raises(RequestError, match="lacks TensorRT-LLM LoRA files"):
        load_trtllm_weights(tmp_path / "nowhere")
